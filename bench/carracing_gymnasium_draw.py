#!/usr/bin/env python3
"""The peer of `apiary bench envs --env CarRacing-v3`: Gymnasium's own drawing of a CarRacing-v3
observation, timed. Gymnasium's env cannot step here (Box2D's Python binding is not in Debian), so this
times what every one of its steps does besides the physics: `_render("state_pixels")` through pygame,
on a track built by `_create_track`, with the car posed mid-track (the stand-ins of
tests/data/reference/car_racing/make_frames.py). Prints frames per second, median of 5 repeats.

    python3 bench/carracing_gymnasium_draw.py PATH/TO/car_racing.py PATH/TO/car_dynamics.py
"""
import importlib.util
import math
import os
import statistics
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location(
    "make_frames", os.path.join(here, "..", "tests", "data", "reference", "car_racing", "make_frames.py"))
frames = importlib.util.module_from_spec(spec)
spec.loader.exec_module(frames)


def main(racing_path, dynamics_path):
    frames.stub_modules()
    dynamics = frames.load(dynamics_path, "gymnasium.envs.box2d.car_dynamics")
    racing = frames.load(racing_path, "car_racing")
    import numpy as np
    size = dynamics.SIZE
    rng = np.random.default_rng(1)
    draws = []
    for _ in range(12):
        draws.append(float(rng.uniform(0, 2 * math.pi / 12)))
        draws.append(float(rng.uniform(racing.TRACK_RAD / 3, racing.TRACK_RAD)))

    class Draws:
        def uniform(self, low, high):
            return draws.pop(0)

    env = object.__new__(racing.CarRacing)
    env.np_random = Draws()
    env.verbose = False
    env.world = frames.Anything(CreateStaticBody=lambda fixtures: frames.Anything(fixtures=[frames.Anything()]))
    env.road_poly = []
    env.fd_tile = frames.Anything(shape=frames.Anything(vertices=None))
    env.road_color = np.array([102, 102, 102])
    env.bg_color = np.array([102, 204, 102])
    env.grass_color = np.array([102, 230, 102])
    assert racing.CarRacing._create_track(env)
    _, beta, x, y = env.track[40]
    hull = frames.body(x, y, beta, [[(a * size, b * size) for a, b in poly] for poly in
                                    (dynamics.HULL_POLY1, dynamics.HULL_POLY2, dynamics.HULL_POLY3,
                                     dynamics.HULL_POLY4)], (0.8, 0.0, 0.0), linearVelocity=(3.0, 25.0),
                       angularVelocity=0.5)
    wheel_poly = [(-dynamics.WHEEL_W * size, dynamics.WHEEL_R * size), (dynamics.WHEEL_W * size, dynamics.WHEEL_R * size),
                  (dynamics.WHEEL_W * size, -dynamics.WHEEL_R * size), (-dynamics.WHEEL_W * size, -dynamics.WHEEL_R * size)]
    wheels = []
    for wx, wy in dynamics.WHEELPOS:
        cx, cy = hull.transform * (wx * size, wy * size)
        wheels.append(frames.body(cx, cy, beta, [wheel_poly], dynamics.WHEEL_COLOR, phase=1.0, omega=40.0,
                                  joint=frames.Anything(angle=0.1)))
    car = object.__new__(dynamics.Car)
    car.hull, car.wheels, car.drawlist, car.particles = hull, wheels, wheels + [hull], []
    env.car, env.t, env.reward, env.screen, env.clock = car, 2.0, 100.0, None, None
    env.metadata = racing.CarRacing.metadata
    rates = []
    for _ in range(5):
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < 1.0:
            env._render("state_pixels")
            n += 1
        rates.append(n / (time.perf_counter() - start))
    print(f"gymnasium_state_pixels_frames_per_second: {statistics.median(rates):.1f}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
