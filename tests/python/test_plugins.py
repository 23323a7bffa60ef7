"""apiary.load_plugin and make_vec(plugins=...): env plugins built as users build them (the walk test
plugin and the grid-world example, paths from ctest's environment), loaded into the Python process."""

import os

import numpy as np
import pytest

import apiary
from apiary import _apiary

WALK = os.environ.get("APIARY_TEST_PLUGIN_WALK", "")
GRIDWORLD = os.environ.get("APIARY_TEST_PLUGIN_GRIDWORLD", "")
pytestmark = pytest.mark.skipif(not (WALK and GRIDWORLD), reason="run by ctest, which names the plugins")


def test_load_plugin_registers_its_envs():
    ids = apiary.load_plugin(WALK)
    assert sorted(ids) == ["PluginDrift-v0", "PluginWalk-v0"]
    assert sorted(apiary.load_plugin(WALK)) == sorted(ids)  # the same file again: nothing new, no error
    listed = apiary.envs()
    walk = listed["PluginWalk-v0"]
    assert walk["origin"] == os.path.realpath(WALK)
    assert walk["action_space"].n == 3 and walk["max_episode_steps"] == 20
    assert walk["options"]["goal"]["default"] == 3.0 and walk["options"]["goal"]["doc"] == "distance to the end"


def test_plugin_env_steps_as_in_cpp():
    env = apiary.make_vec("PluginWalk-v0", 4, seed=3, plugins=[WALK], autoreset_mode=apiary.AutoresetMode.SAME_STEP)
    actions = np.random.default_rng(0).integers(0, 3, size=(50, 4))
    ref = _apiary.cpp_rollout("PluginWalk-v0", 4, 3, 1, actions)
    np.testing.assert_array_equal(env.reset()[0], ref["reset_obs"])
    for t in range(50):
        obs, reward, terminated, truncated, info = env.step(actions[t])
        np.testing.assert_array_equal(obs, ref["obs"][t])
        np.testing.assert_array_equal(reward, ref["reward"][t])
        np.testing.assert_array_equal(terminated, ref["terminated"][t])
        np.testing.assert_array_equal(truncated, ref["truncated"][t])


def test_example_plugin():
    ids = apiary.load_plugin(GRIDWORLD)
    assert len(ids) == 1
    env = apiary.make_vec(ids[0], 8, seed=0)
    obs, _ = env.reset()
    assert obs.shape == (8,) + env.single_observation_space.shape
    for _ in range(30):
        obs, *_ = env.step(env.action_space.sample())
    assert env.observation_space.contains(obs)


def test_an_exception_inside_a_plugin_env_reaches_python():
    env = apiary.make_vec("PluginWalk-v0", 3, seed=0, plugins=[WALK],
                          options={"throw_lane": 1, "throw_after": 2})
    env.reset()
    env.step([1, 1, 1])
    env.step([1, 1, 1])
    with pytest.raises(RuntimeError) as e:
        env.step([1, 1, 1])
    for words in (os.path.realpath(WALK), "PluginWalk-v0", "lane 1", "the walker fell off the plugin"):
        assert words in str(e.value)


@pytest.mark.parametrize("path, words", [
    ("no/such/libplugin.so", "no such file"),
    (".", "is a folder"),
])
def test_bad_plugin_paths(path, words):
    with pytest.raises(ValueError) as e:
        apiary.load_plugin(path)
    assert path in str(e.value) and words in str(e.value)
