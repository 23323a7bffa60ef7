#!/usr/bin/env python3
"""Reference observations of CarRacing-v3, drawn by Gymnasium's own code through pygame.

Gymnasium's CarRacing needs Box2D's Python binding, which Debian does not package, so this script runs
its drawing alone: `CarRacing._render("state_pixels")` from car_racing.py and `Car.draw` from
car_dynamics.py, over stand-in bodies that have the poses this script chooses, on tracks built by
`_create_track` from listed draws (as make_tracks.py does). Needs numpy and pygame (python3-pygame).

    python3 make_frames.py PATH/TO/car_racing.py PATH/TO/car_dynamics.py OUTDIR

For each case it writes OUTDIR/frame_K.ppm (the 96x96 RGB observation, binary PPM) and a line of
frames.txt that says what was drawn:
    frame K case C hull x y angle vx vy angular_velocity t T reward R joint J
          omega w0 w1 w2 w3 phase p0 p1 p2 p3 colors road3 bg3 grass3 visited i0 i1 ...
C is the track case of tracks.txt (numpy default_rng(C) draws); the wheels sit at car_dynamics'
WHEELPOS in the hull's frame, the front ones turned by J; `visited` lists tiles drawn in the plain road
colour (touched).
"""
import importlib.util
import math
import os
import sys
import types

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
import numpy as np
import pygame


class Anything:
    def __init__(self, *args, **kwargs):
        self.__dict__.update(kwargs)


def load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def stub_modules():
    box2d = types.ModuleType("Box2D")
    b2 = types.ModuleType("Box2D.b2")
    for name in ("contactListener", "fixtureDef", "polygonShape", "revoluteJointDef"):
        setattr(b2, name, Anything)
    box2d.b2 = b2
    box2d.b2World = Anything
    box2d.b2Body = Anything
    gym = types.ModuleType("gymnasium")
    gym.Env = type("Env", (), {})
    gym.spaces = types.ModuleType("gymnasium.spaces")
    error = types.ModuleType("gymnasium.error")
    error.DependencyNotInstalled = Exception
    error.InvalidAction = Exception
    utils = types.ModuleType("gymnasium.utils")
    utils.EzPickle = type("EzPickle", (), {})
    for name, module in {
        "Box2D": box2d, "Box2D.b2": b2, "gymnasium": gym, "gymnasium.spaces": gym.spaces,
        "gymnasium.error": error, "gymnasium.utils": utils,
        "gymnasium.envs": types.ModuleType("gymnasium.envs"),
        "gymnasium.envs.box2d": types.ModuleType("gymnasium.envs.box2d"),
    }.items():
        sys.modules[name] = module


class Transform:
    def __init__(self, x, y, angle):
        self.x, self.y, self.c, self.s = x, y, math.cos(angle), math.sin(angle)

    def __mul__(self, v):
        return (self.c * v[0] - self.s * v[1] + self.x, self.s * v[0] + self.c * v[1] + self.y)


def body(x, y, angle, polys, color, **extra):
    b = Anything(position=(x, y), angle=angle, transform=Transform(x, y, angle), color=color, **extra)
    b.fixtures = [Anything(body=b, shape=Anything(vertices=poly)) for poly in polys]
    return b


def main(racing_path, dynamics_path, outdir):
    stub_modules()
    dynamics = load(dynamics_path, "gymnasium.envs.box2d.car_dynamics")
    racing = load(racing_path, "car_racing")
    size = dynamics.SIZE
    rad = racing.TRACK_RAD

    # (track case, hull at track point k offset sideways by d metres, t, speed, omega, phase, joint,
    #  angular velocity, reward, domain colours, visited tiles)
    cases = [
        (0, 0, 0.0, 0.02, (0.0, 0.0), [0, 0, 0, 0], [0, 0, 0, 0], 0.0, 0.0, 0.0, None, [0, 1]),
        (1, 40, 0.0, 2.5, (3.0, 25.0), [45, 46, 50, 49], [0.3, 2.0, 4.0, 5.5], 0.25, 0.8, 123.4, None,
         list(range(0, 41))),
        (2, 100, 4.5, 7.0, (-6.0, 12.0), [20, 22, -18, 25], [1.0, 3.5, 5.0, 0.2], -0.3, -1.5, -37.0,
         ((40.5, 180.2, 15.0), (160.7, 30.2, 90.9), (160.7, 50.2, 90.9)), list(range(90, 101))),
        (3, 200, 14.0, 12.0, (0.0, 0.0), [0, 0, 0, 0], [0.6, 0.6, 0.6, 0.6], 0.0, 0.0, 512.0, None, []),
    ]
    pygame.font.init()
    lines = []
    for k, (case, point, offset, t, velocity, omega, phase, joint, angvel, reward, colors, visited) in \
            enumerate(cases):
        rng = np.random.default_rng(case)
        draws = []
        for _ in range(12):
            draws.append(float(rng.uniform(0, 2 * math.pi / 12)))
            draws.append(float(rng.uniform(rad / 3, rad)))

        class Draws:
            def uniform(self, low, high):
                return draws.pop(0)

        env = object.__new__(racing.CarRacing)
        env.np_random = Draws()
        env.verbose = False
        env.world = Anything(CreateStaticBody=lambda fixtures: Anything(fixtures=[Anything()]))
        env.road_poly = []
        env.fd_tile = Anything(shape=Anything(vertices=None))
        if colors is None:
            env.road_color = np.array([102, 102, 102])
            env.bg_color = np.array([102, 204, 102])
            env.grass_color = np.array([102, 230, 102])
        else:
            env.road_color, env.bg_color, env.grass_color = (np.array(c) for c in colors)
        assert racing.CarRacing._create_track(env), f"case {case}: no track"
        tiles = [color for poly, color in env.road_poly if not isinstance(color, tuple)]
        for i in visited:
            tiles[i][:] = env.road_color  # what the friction detector does to a touched tile

        _, beta, px, py = env.track[point]
        x = px + offset * math.cos(beta)
        y = py + offset * math.sin(beta)
        angle = beta
        hull = body(x, y, angle, [[(a * size, b * size) for a, b in poly] for poly in
                                  (dynamics.HULL_POLY1, dynamics.HULL_POLY2, dynamics.HULL_POLY3,
                                   dynamics.HULL_POLY4)], (0.8, 0.0, 0.0),
                    linearVelocity=velocity, angularVelocity=angvel)
        wheel_poly = [(-dynamics.WHEEL_W * size, +dynamics.WHEEL_R * size),
                      (+dynamics.WHEEL_W * size, +dynamics.WHEEL_R * size),
                      (+dynamics.WHEEL_W * size, -dynamics.WHEEL_R * size),
                      (-dynamics.WHEEL_W * size, -dynamics.WHEEL_R * size)]
        wheels = []
        for i, (wx, wy) in enumerate(dynamics.WHEELPOS):
            cx, cy = hull.transform * (wx * size, wy * size)
            turn = joint if i < 2 else 0.0
            wheels.append(body(cx, cy, angle + turn, [wheel_poly], dynamics.WHEEL_COLOR, phase=phase[i],
                               omega=omega[i], joint=Anything(angle=turn)))
        car = object.__new__(dynamics.Car)
        car.hull = hull
        car.wheels = wheels
        car.drawlist = wheels + [hull]
        car.particles = []
        env.car = car
        env.t = t
        env.reward = reward
        env.screen = None
        env.clock = None
        env.metadata = racing.CarRacing.metadata
        frame = env._render("state_pixels")
        with open(os.path.join(outdir, f"frame_{k}.ppm"), "wb") as f:
            f.write(b"P6\n96 96\n255\n" + np.ascontiguousarray(frame, dtype=np.uint8).tobytes())
        fields = [f"frame {k} case {case}", "hull " + " ".join(repr(float(v)) for v in
                  (x, y, angle, velocity[0], velocity[1], angvel)),
                  f"t {t!r} reward {reward!r} joint {joint!r}",
                  "omega " + " ".join(repr(float(v)) for v in omega),
                  "phase " + " ".join(repr(float(v)) for v in phase),
                  "colors " + " ".join(repr(float(v)) for c in (env.road_color, env.bg_color, env.grass_color)
                                       for v in c),
                  "visited " + " ".join(str(i) for i in visited)]
        lines.append(" ".join(fields))
    with open(os.path.join(outdir, "frames.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
