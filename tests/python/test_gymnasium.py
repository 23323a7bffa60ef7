"""With the real gymnasium importable (skipped otherwise; it is not a dependency): the spaces are
gymnasium's, the env is a gymnasium.vector.VectorEnv, and Gymnasium's own vector wrappers run on it.
Gymnasium's RecordEpisodeStatistics, reading metadata["autoreset_mode"], records the same episodes
as Apiary's info["episode"]."""

import numpy as np
import pytest

gymnasium = pytest.importorskip("gymnasium")
from gymnasium.wrappers import vector as vector_wrappers  # noqa: E402

import apiary  # noqa: E402


def test_spaces_and_base_class_are_gymnasiums():
    env = apiary.make_vec("LunarLanderContinuous-v3", 4, seed=0)
    assert isinstance(env, gymnasium.vector.VectorEnv)
    assert isinstance(env.single_observation_space, gymnasium.spaces.Box)
    assert isinstance(env.action_space, gymnasium.spaces.Box) and env.action_space.shape == (4, 2)
    assert env.metadata["autoreset_mode"] is gymnasium.vector.AutoresetMode.SAME_STEP
    assert gymnasium.vector.utils.batch_space(env.single_action_space, 4) == env.action_space
    discrete = apiary.make_vec("CartPole-v1", 3, seed=0)
    assert discrete.action_space == gymnasium.vector.utils.batch_space(discrete.single_action_space, 3)
    assert discrete.observation_space == gymnasium.vector.utils.batch_space(discrete.single_observation_space, 3)


def test_gymnasiums_record_episode_statistics_agrees():
    ours = apiary.make_vec("CartPole-v1", 6, seed=5, copy=True)
    wrapped = vector_wrappers.RecordEpisodeStatistics(apiary.make_vec("CartPole-v1", 6, seed=5, episode_stats=False))
    ours.reset(), wrapped.reset()
    rng = np.random.default_rng(0)
    finished = 0
    for _ in range(300):
        actions = rng.integers(0, 2, size=6)
        *_, info = ours.step(actions)
        *_, winfo = wrapped.step(actions)
        assert ("episode" in info) == ("episode" in winfo)
        if "episode" in info:
            np.testing.assert_array_equal(info["_episode"], winfo["_episode"])
            np.testing.assert_allclose(info["episode"]["r"], winfo["episode"]["r"])
            np.testing.assert_array_equal(info["episode"]["l"], winfo["episode"]["l"])
            finished += int(info["_episode"].sum())
    assert finished > 20
    assert wrapped.episode_count == finished
    with pytest.raises(ValueError, match="episode"):  # the wrapper refuses an info that has the key
        doubled = vector_wrappers.RecordEpisodeStatistics(apiary.make_vec("CartPole-v1", 2, seed=0))
        doubled.reset()
        for _ in range(100):
            doubled.step(np.ones(2, np.int64))
