"""What make_tracks.py, make_frames.py and bench/carracing_gymnasium_draw.py share: Gymnasium's
car_racing.py and car_dynamics.py loaded with Box2D and the rest of Gymnasium replaced by stand-ins
(Debian packages neither Gymnasium nor Box2D's Python binding), a track built by Gymnasium's own
`_create_track` from listed draws, and a car posed by hand for `Car.draw`. Needs numpy; pygame only
for drawing (make_frames.py, the bench)."""
import importlib.util
import math
import sys
import types

import numpy as np


class Anything:
    def __init__(self, *args, **kwargs):
        self.__dict__.update(kwargs)


def load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_gymnasium(racing_path, dynamics_path=None, stub_pygame=False):
    """(car_racing, car_dynamics) modules from Gymnasium's files; car_dynamics a stand-in when no path."""
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
    modules = {"Box2D": box2d, "Box2D.b2": b2, "gymnasium": gym, "gymnasium.spaces": gym.spaces,
               "gymnasium.error": error, "gymnasium.utils": utils,
               "gymnasium.envs": types.ModuleType("gymnasium.envs"),
               "gymnasium.envs.box2d": types.ModuleType("gymnasium.envs.box2d")}
    if stub_pygame:
        pygame = types.ModuleType("pygame")
        pygame.gfxdraw = types.ModuleType("pygame.gfxdraw")
        pygame.Surface = Anything
        modules.update({"pygame": pygame, "pygame.gfxdraw": pygame.gfxdraw})
    sys.modules.update(modules)
    if dynamics_path is None:
        dynamics = types.ModuleType("gymnasium.envs.box2d.car_dynamics")
        dynamics.Car = Anything
        sys.modules[dynamics.__name__] = dynamics
    else:
        dynamics = load(dynamics_path, "gymnasium.envs.box2d.car_dynamics")
    return load(racing_path, "car_racing"), dynamics


def case_draws(racing, case):
    """The 24 draws of track case `case`: numpy's default_rng(case), as _create_track draws them."""
    rng = np.random.default_rng(case)
    draws = []
    for _ in range(12):
        draws.append(float(rng.uniform(0, 2 * math.pi / 12)))
        draws.append(float(rng.uniform(racing.TRACK_RAD / 3, racing.TRACK_RAD)))
    return draws


def track_env(racing, draws, road_color=(102, 102, 102)):
    """A CarRacing object that ran Gymnasium's _create_track on `draws` (its .track and .road_poly),
    and whether the generator succeeded."""
    values = list(draws)

    class Draws:
        def uniform(self, low, high):
            return values.pop(0)

    env = object.__new__(racing.CarRacing)
    env.np_random = Draws()
    env.verbose = False
    env.world = Anything(CreateStaticBody=lambda fixtures: Anything(fixtures=[Anything()]))
    env.road_poly = []
    env.fd_tile = Anything(shape=Anything(vertices=None))
    env.road_color = np.array(road_color)
    ok = racing.CarRacing._create_track(env)
    return env, ok


class Transform:
    def __init__(self, x, y, angle):
        self.x, self.y, self.c, self.s = x, y, math.cos(angle), math.sin(angle)

    def __mul__(self, v):
        return (self.c * v[0] - self.s * v[1] + self.x, self.s * v[0] + self.c * v[1] + self.y)


def body(x, y, angle, polys, color, **extra):
    b = Anything(position=(x, y), angle=angle, transform=Transform(x, y, angle), color=color, **extra)
    b.fixtures = [Anything(body=b, shape=Anything(vertices=poly)) for poly in polys]
    return b


def posed_car(dynamics, x, y, angle, velocity, angular_velocity, omega, phase, joint):
    """A car_dynamics Car whose hull stands at (x, y, angle) and whose wheels sit at WHEELPOS in the
    hull's frame, the front ones turned by `joint`, for Car.draw and _render_indicators."""
    size = dynamics.SIZE
    hull = body(x, y, angle, [[(a * size, b * size) for a, b in poly] for poly in
                              (dynamics.HULL_POLY1, dynamics.HULL_POLY2, dynamics.HULL_POLY3, dynamics.HULL_POLY4)],
                (0.8, 0.0, 0.0), linearVelocity=velocity, angularVelocity=angular_velocity)
    w, r = dynamics.WHEEL_W * size, dynamics.WHEEL_R * size
    wheel_poly = [(-w, +r), (+w, +r), (+w, -r), (-w, -r)]
    wheels = []
    for i, (wx, wy) in enumerate(dynamics.WHEELPOS):
        cx, cy = hull.transform * (wx * size, wy * size)
        turn = joint if i < 2 else 0.0
        wheels.append(body(cx, cy, angle + turn, [wheel_poly], dynamics.WHEEL_COLOR, phase=phase[i], omega=omega[i],
                           joint=Anything(angle=turn)))
    car = object.__new__(dynamics.Car)
    car.hull, car.wheels, car.drawlist, car.particles = hull, wheels, wheels + [hull], []
    return car
