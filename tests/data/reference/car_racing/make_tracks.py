#!/usr/bin/env python3
"""Reference tracks of CarRacing-v3, made by Gymnasium's own track generator.

Runs `CarRacing._create_track` from Gymnasium's car_racing.py (give its path: a checkout of
Farama-Foundation/Gymnasium, gymnasium/envs/box2d/car_racing.py) with Box2D, pygame and the rest of
Gymnasium replaced by stand-ins that record what it builds, and with its random draws taken from a list,
so that Apiary's generator can be fed the same numbers. Needs only numpy.

    python3 make_tracks.py PATH/TO/car_racing.py > tracks.txt

Output, one block per case (the draws come from numpy's default_rng(case)):
    case K
    draws d0 ... d23            noise0 rad0 noise1 rad1 ... as _create_track draws them
    tiles N                     0 where the generator fails for these draws
    kerbs M                     tiles with a red-white border
    point I alpha beta x y      track points 0, N/2 and N-1
    tile I x0 y0 ... x3 y3      tile polygons 0 and N/2
"""
import importlib.util
import math
import sys
import types

import numpy as np


def stub_modules():
    class Anything:
        def __init__(self, *args, **kwargs):
            self.__dict__.update(kwargs)

    box2d = types.ModuleType("Box2D")
    b2 = types.ModuleType("Box2D.b2")
    b2.contactListener = Anything
    b2.fixtureDef = Anything
    b2.polygonShape = Anything
    box2d.b2 = b2
    pygame = types.ModuleType("pygame")
    pygame.gfxdraw = types.ModuleType("pygame.gfxdraw")
    pygame.Surface = Anything
    gym = types.ModuleType("gymnasium")
    gym.Env = type("Env", (), {})
    gym.spaces = types.ModuleType("gymnasium.spaces")
    error = types.ModuleType("gymnasium.error")
    error.DependencyNotInstalled = Exception
    error.InvalidAction = Exception
    utils = types.ModuleType("gymnasium.utils")
    utils.EzPickle = type("EzPickle", (), {})
    dynamics = types.ModuleType("gymnasium.envs.box2d.car_dynamics")
    dynamics.Car = Anything
    for name, module in {
        "Box2D": box2d, "Box2D.b2": b2, "pygame": pygame, "pygame.gfxdraw": pygame.gfxdraw,
        "gymnasium": gym, "gymnasium.spaces": gym.spaces, "gymnasium.error": error,
        "gymnasium.utils": utils, "gymnasium.envs": types.ModuleType("gymnasium.envs"),
        "gymnasium.envs.box2d": types.ModuleType("gymnasium.envs.box2d"),
        "gymnasium.envs.box2d.car_dynamics": dynamics,
    }.items():
        sys.modules[name] = module
    return Anything


def main(path):
    anything = stub_modules()
    spec = importlib.util.spec_from_file_location("car_racing", path)
    car_racing = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(car_racing)

    class Draws:
        def __init__(self, values):
            self.values = list(values)

        def uniform(self, low, high):
            return self.values.pop(0)

    class World:
        def CreateStaticBody(self, fixtures):
            return anything(fixtures=[anything()])

    rad = car_racing.TRACK_RAD
    for case in range(8):
        rng = np.random.default_rng(case)
        draws = []
        for _ in range(12):
            draws.append(float(rng.uniform(0, 2 * math.pi / 12)))
            draws.append(float(rng.uniform(rad / 3, rad)))
        env = anything(np_random=Draws(draws), verbose=False, world=World(), road_poly=[],
                       road_color=np.array([102, 102, 102]),
                       fd_tile=anything(shape=anything(vertices=None)))
        ok = car_racing.CarRacing._create_track(env)
        print(f"case {case}")
        print("draws " + " ".join(repr(d) for d in draws))
        if not ok:
            print("tiles 0")
            continue
        track = env.track
        n = len(track)
        print(f"tiles {n}")
        print(f"kerbs {len(env.road_poly) - n}")
        for i in (0, n // 2, n - 1):
            print(f"point {i} " + " ".join(repr(float(v)) for v in track[i]))
        tiles = [poly for poly, color in env.road_poly if len(color) == 3 and not isinstance(color, tuple)]
        for i in (0, n // 2):
            print(f"tile {i} " + " ".join(repr(float(c)) for corner in tiles[i] for c in corner))


if __name__ == "__main__":
    main(sys.argv[1])
