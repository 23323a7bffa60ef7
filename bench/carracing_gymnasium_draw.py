#!/usr/bin/env python3
"""The peer of `apiary bench envs --env CarRacing-v3`: Gymnasium's own drawing of a CarRacing-v3
observation, timed. Gymnasium's env cannot step here (Box2D's Python binding is not in Debian), so this
times what every one of its steps does besides the physics: `_render("state_pixels")` through pygame,
on a track built by `_create_track`, with the car posed mid-track (the stand-ins of
tests/data/reference/car_racing/gymnasium_stubs.py). Prints frames per second, median of 5 repeats.

    python3 bench/carracing_gymnasium_draw.py PATH/TO/car_racing.py PATH/TO/car_dynamics.py
"""
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "reference",
                                "car_racing"))
import gymnasium_stubs as stubs  # noqa: E402


def main(racing_path, dynamics_path):
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    racing, dynamics = stubs.load_gymnasium(racing_path, dynamics_path)
    import numpy as np  # noqa: PLC0415
    env, ok = stubs.track_env(racing, stubs.case_draws(racing, 1))
    assert ok
    env.bg_color, env.grass_color = np.array([102, 204, 102]), np.array([102, 230, 102])
    _, beta, x, y = env.track[40]
    env.car = stubs.posed_car(dynamics, x, y, beta, (3.0, 25.0), 0.5, [40.0] * 4, [1.0] * 4, 0.1)
    env.t, env.reward, env.screen, env.clock = 2.0, 100.0, None, None
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
