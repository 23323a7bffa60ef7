"""Random action batches for the Python tests (imported by the test files beside it)."""

import numpy as np


def random_actions(env, steps, rng):
    """[steps, num_envs, ...] actions from the env's space: integers for a Discrete space; for a Box,
    uniform over twice its range, so that the env's clipping is exercised too."""
    space = env.single_action_space
    if space.shape == ():
        return rng.integers(int(space.start), int(space.start + space.n), size=(steps, env.num_envs))
    low, high = np.asarray(space.low, np.float64), np.asarray(space.high, np.float64)
    return ((low + high) / 2 + rng.uniform(-1, 1, size=(steps, env.num_envs) + space.shape) * (high - low)).astype(
        np.float32)
