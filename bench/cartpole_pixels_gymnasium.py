#!/usr/bin/env python3
"""The peer of `apiary bench envs --env CartPole-v1 --option pixels=1`: Gymnasium's own CartPole-v1
observed as pictures, timed. Gymnasium is not installed here, so its `cartpole.py` is loaded from a
checkout over stand-ins for the rest of the package (spaces, logger, the Env base); the physics and the
drawing (`render()` in "rgb_array" mode, through pygame) are Gymnasium's own code. Two figures, one env
on one core (Gymnasium's vector envs run one such env per lane, or per process):
- `step()` then `render()`: the 600x400 frame;
- the same, then GrayscaleObservation's arithmetic (its weights, in numpy, as the wrapper computes it).
ResizeObservation's cv2 resize to 84x84 is left out (Debian's Python has no cv2), so both figures are
faster than Gymnasium's whole pipeline. Prints steps per second, median of 5 repeats of 1 s.

    python3 bench/cartpole_pixels_gymnasium.py PATH/TO/gymnasium/envs/classic_control/cartpole.py
"""
import importlib.util
import os
import statistics
import sys
import time
import types

import numpy as np


class _Generic:
    """A base class that can be subscripted, as Gymnasium's generic Env and VectorEnv are."""

    def __class_getitem__(cls, _):
        return cls


class Env(_Generic):
    def reset(self, *, seed=None, options=None):
        if seed is not None or not hasattr(self, "np_random"):
            self.np_random = np.random.default_rng(seed)


def load_cartpole(path):
    gym = types.ModuleType("gymnasium")
    gym.Env = Env
    spaces = types.ModuleType("gymnasium.spaces")
    spaces.Discrete = lambda n, **_: types.SimpleNamespace(n=n, contains=lambda a: 0 <= int(a) < n)
    spaces.Box = lambda low, high, **_: types.SimpleNamespace(low=low, high=high)
    logger = types.ModuleType("gymnasium.logger")
    logger.warn = lambda *a, **k: None
    gym.spaces, gym.logger = spaces, logger
    utils = types.ModuleType("gymnasium.envs.classic_control.utils")
    utils.maybe_parse_reset_bounds = lambda options, low, high: (low, high)
    error = types.ModuleType("gymnasium.error")
    error.DependencyNotInstalled = ImportError
    vector = types.ModuleType("gymnasium.vector")
    vector.AutoresetMode = types.SimpleNamespace(NEXT_STEP="NextStep")
    vector.VectorEnv = _Generic
    vector_utils = types.ModuleType("gymnasium.vector.utils")
    vector_utils.batch_space = lambda space, n: space
    classic = types.ModuleType("gymnasium.envs.classic_control")
    classic.utils = utils
    sys.modules.update({"gymnasium": gym, "gymnasium.spaces": spaces, "gymnasium.logger": logger,
                        "gymnasium.envs": types.ModuleType("gymnasium.envs"),
                        "gymnasium.envs.classic_control": classic,
                        "gymnasium.envs.classic_control.utils": utils, "gymnasium.error": error,
                        "gymnasium.vector": vector, "gymnasium.vector.utils": vector_utils})
    spec = importlib.util.spec_from_file_location("cartpole", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def grayscale(frame):
    """GrayscaleObservation's arithmetic: the weighted sum of the channels, truncated to uint8."""
    return np.sum(np.multiply(frame, np.array([0.2125, 0.7154, 0.0721])), axis=-1).astype(np.uint8)


def rate(env, rng, gray):
    """Steps per second of step() + render() (+ grayscale), median of 5 repeats of 1 s."""
    rates = []
    for _ in range(5):
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < 1.0:
            _, _, terminated, truncated, _ = env.step(int(rng.integers(2)))
            frame = env.render()
            if gray:
                frame = grayscale(frame)
            if terminated or truncated:
                env.reset()
            n += 1
        rates.append(n / (time.perf_counter() - start))
    assert frame.shape[:2] == (400, 600) and frame.min() < 200 < frame.max()
    return statistics.median(rates)


def main(path):
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    cartpole = load_cartpole(path)
    env = cartpole.CartPoleEnv(render_mode="rgb_array")
    env.reset(seed=1)
    rng = np.random.default_rng(2)
    print(f"gymnasium_cartpole_render_steps_per_second: {rate(env, rng, False):.1f}")
    print(f"gymnasium_cartpole_render_grayscale_steps_per_second: {rate(env, rng, True):.1f}")

if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
