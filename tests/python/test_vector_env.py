"""apiary.make_vec against the C++ vector env, and against Gymnasium 1.x's documented VectorEnv
contract (gymnasium/vector/vector_env.py; same-step autoreset as SyncVectorEnv's SAME_STEP mode;
info["episode"] as wrappers/vector/common.py RecordEpisodeStatistics writes it), without gymnasium.
The C++ core resets in the same step, so these tests ask for SAME_STEP and episode_stats=True, which
are not make_vec's defaults (test_vector_modes.py covers the defaults and the other modes)."""

import gc
import threading
import time

import numpy as np
import pytest

import apiary
from actions import random_actions
from apiary import _apiary

SAME = apiary.AutoresetMode.SAME_STEP

BUNDLED_IDS = ["CartPole-v1", "Acrobot-v1", "MountainCar-v0", "MountainCarContinuous-v0", "Pendulum-v1",
               "LunarLander-v3", "LunarLanderContinuous-v3", "BipedalWalker-v3", "BipedalWalkerHardcore-v3"]


def test_every_bundled_env_is_registered():
    listed = apiary.envs()
    for env_id in BUNDLED_IDS:
        assert listed[env_id]["origin"] == "builtin"


@pytest.mark.parametrize("env_id", BUNDLED_IDS)
def test_same_as_the_cpp_vector_env(env_id):
    """Observations, rewards, flags, final observations and episode statistics through Python are the
    C++ vector env's, bit for bit, for the same seed and actions. The C++ side (cpp_rollout) drives
    VecEnv directly; a time limit of 40 makes every lane truncate as well as terminate."""
    num_envs, steps, seed, options = 3, 130, 11, {"max_episode_steps": 40}
    env = apiary.make_vec(env_id, num_envs, seed=seed, threads=2, options=options, autoreset_mode=SAME,
                          episode_stats=True)
    actions = random_actions(env, steps, np.random.default_rng(5))
    ref = _apiary.cpp_rollout(env_id, num_envs, seed, 1, actions, options)

    obs, info = env.reset()
    assert info == {}
    np.testing.assert_array_equal(obs, ref["reset_obs"])
    truncations = 0
    for t in range(steps):
        obs, reward, terminated, truncated, info = env.step(actions[t])
        np.testing.assert_array_equal(obs, ref["obs"][t], err_msg=f"{env_id}: obs at step {t}")
        np.testing.assert_array_equal(reward, ref["reward"][t], err_msg=f"{env_id}: reward at step {t}")
        np.testing.assert_array_equal(terminated, ref["terminated"][t], err_msg=f"{env_id}: step {t}")
        np.testing.assert_array_equal(truncated, ref["truncated"][t], err_msg=f"{env_id}: step {t}")
        done = ref["terminated"][t] | ref["truncated"][t]
        truncations += int(ref["truncated"][t].sum())
        if not done.any():
            assert info == {}
            continue
        np.testing.assert_array_equal(info["_final_obs"], done)
        np.testing.assert_array_equal(np.stack(info["final_obs"][done]), ref["final_obs"][t][done])
        np.testing.assert_array_equal(info["final_obs_dense"][done], ref["final_obs"][t][done])
        np.testing.assert_array_equal(info["_episode"], done)
        np.testing.assert_array_equal(info["episode"]["r"][done], ref["final_return"][t][done])
        np.testing.assert_array_equal(info["episode"]["l"][done], ref["final_length"][t][done])
        assert not info["episode"]["r"][~done].any() and not info["episode"]["l"][~done].any()
    assert truncations > 0
    env.close()


def test_autoreset_at_truncation():
    """A lane cut by the time limit: final_obs is the observation the episode would have continued
    from (the same seed and actions without the limit give it), obs is a fresh start, the masks
    flag exactly the cut lanes, and episode l and r are the limit and the summed rewards."""
    n, limit = 4, 8
    short = apiary.make_vec("CartPole-v1", n, seed=3, options={"max_episode_steps": limit}, autoreset_mode=SAME,
                            episode_stats=True)
    long = apiary.make_vec("CartPole-v1", n, seed=3, autoreset_mode=SAME)
    short.reset(), long.reset()
    actions = np.array([[t % 2] * n for t in range(limit)])  # alternate pushes: no lane falls within 8 steps
    returns = np.zeros(n)
    for t in range(limit):
        obs, reward, terminated, truncated, info = short.step(actions[t])
        long_obs, *_ = long.step(actions[t])
        returns += reward
        if t < limit - 1:
            assert info == {} and not truncated.any()
    assert truncated.all() and not terminated.any()
    for key in ("_final_obs", "_final_info", "_episode"):
        assert info[key].dtype == np.bool_ and info[key].shape == (n,) and info[key].all()
    np.testing.assert_array_equal(np.stack(info["final_obs"]), long_obs)
    assert info["final_info"] == {}
    np.testing.assert_array_equal(info["episode"]["l"], np.full(n, limit))
    np.testing.assert_array_equal(info["episode"]["r"], returns)
    assert (info["episode"]["t"] >= 0).all()
    assert np.abs(obs).max() <= 0.05  # CartPole's reset draws every element from [-0.05, 0.05]
    assert not np.array_equal(obs, long_obs)


def test_autoreset_at_termination():
    """Pushing right every step tips CartPole over: on that step terminated is set, final_obs is past
    the pole-angle limit of 12 degrees, and obs is already the next episode's start."""
    env = apiary.make_vec("CartPole-v1", 2, seed=0, autoreset_mode=SAME, episode_stats=True)
    env.reset()
    for t in range(100):
        obs, reward, terminated, truncated, info = env.step(np.ones(2, np.int64))
        if terminated.any():
            break
    assert terminated.any() and not truncated.any()
    np.testing.assert_array_equal(info["_final_obs"], terminated)
    lane = int(np.flatnonzero(terminated)[0])
    assert abs(info["final_obs"][lane][2]) > 12 * 2 * np.pi / 360
    assert np.abs(obs[lane]).max() <= 0.05
    assert info["episode"]["l"][lane] == t + 1 and info["episode"]["r"][lane] == t + 1


def test_gymnasium_vector_env_contract():
    """Shapes, dtypes, spaces and info keys as Gymnasium 1.x's VectorEnv documents them."""
    n = 5
    env = apiary.make_vec("CartPole-v1", n, seed=1, autoreset_mode=SAME, episode_stats=True)
    assert env.num_envs == n
    assert env.metadata["autoreset_mode"] == apiary.AutoresetMode.SAME_STEP
    assert env.metadata["autoreset_mode"].value == "SameStep"
    assert env.single_observation_space.shape == (4,) and env.single_observation_space.dtype == np.float32
    assert env.observation_space.shape == (n, 4) and env.observation_space.dtype == np.float32
    assert env.single_action_space.n == 2 and env.single_action_space.start == 0
    assert env.action_space.shape == (n,)
    np.testing.assert_array_equal(env.action_space.nvec, np.full(n, 2))
    obs, info = env.reset(seed=123)
    assert isinstance(info, dict) and info == {}
    assert obs.shape == (n, 4) and obs.dtype == np.float32
    assert env.observation_space.contains(obs)
    env.action_space.seed(0)
    seen = set()
    for _ in range(200):
        result = env.step(env.action_space.sample())
        assert isinstance(result, tuple) and len(result) == 5
        obs, rewards, terminations, truncations, info = result
        assert obs.shape == (n, 4) and obs.dtype == np.float32
        assert rewards.shape == (n,) and rewards.dtype == np.float64
        assert terminations.shape == (n,) and terminations.dtype == np.bool_
        assert truncations.shape == (n,) and truncations.dtype == np.bool_
        assert isinstance(info, dict)
        seen.update(info)
        if info:
            assert set(info) == {"final_obs", "_final_obs", "final_info", "_final_info", "episode", "_episode",
                                 "final_obs_dense"}
            assert info["final_obs"].shape == (n,) and info["final_obs"].dtype == object
            assert info["final_obs_dense"].shape == (n, 4) and info["final_obs_dense"].dtype == np.float32
            for lane in range(n):
                if info["_final_obs"][lane]:
                    assert env.single_observation_space.shape == info["final_obs"][lane].shape
                else:
                    assert info["final_obs"][lane] is None
            assert set(info["episode"]) == {"r", "l", "t"}
            assert info["episode"]["r"].dtype == np.float64 and info["episode"]["l"].dtype == np.int64
            assert info["episode"]["t"].dtype == np.float64
            for key in ("r", "l", "t"):
                assert info["episode"][key].shape == (n,)
    assert "final_obs" in seen
    env.close()
    assert env.closed
    env.close()  # a second close does nothing


def test_continuous_spaces():
    env = apiary.make_vec("Pendulum-v1", 3, seed=0)
    assert env.single_action_space.shape == (1,) and env.single_action_space.dtype == np.float32
    np.testing.assert_array_equal(env.single_action_space.low, [-2.0])
    assert env.action_space.shape == (3, 1)
    np.testing.assert_array_equal(env.action_space.high, np.full((3, 1), 2.0, np.float32))
    env.reset()
    obs, *_ = env.step(env.action_space.sample())
    assert obs.shape == (3, 3)
    obs, *_ = env.step(np.zeros((3, 1), np.float64))  # any real dtype, converted
    obs, *_ = env.step([[0.5], [1], [-3]])  # out of the Box: clipped by the env, as Gymnasium's Pendulum does


def test_copy_false_reuses_arrays_and_copy_true_copies():
    """copy=False: the same arrays every call, overwritten in place (SAME_STEP: the env's own buffers,
    no copy at all; the rewards are a float64 array of the env's own). copy=True (the default): fresh
    arrays every call."""
    env = apiary.make_vec("CartPole-v1", 4, seed=2, copy=False, autoreset_mode=SAME)
    obs0, _ = env.reset()
    before = obs0.copy()
    obs1, reward1, term1, trunc1, _ = env.step(np.zeros(4, np.int64))
    # The same buffer, overwritten in place by the step: obs0 now shows the new observation.
    assert obs1 is obs0 or np.shares_memory(obs1, obs0)
    assert not np.array_equal(obs0, before)
    obs2, reward2, *_ = env.step(np.zeros(4, np.int64))
    assert np.shares_memory(reward1, reward2)

    copied = apiary.make_vec("CartPole-v1", 4, seed=2, autoreset_mode=SAME)
    c0, _ = copied.reset()
    np.testing.assert_array_equal(c0, before)
    c1, r1, *_ = copied.step(np.zeros(4, np.int64))
    c2, r2, *_ = copied.step(np.zeros(4, np.int64))
    assert not np.shares_memory(c1, c2) and not np.shares_memory(r1, r2)
    np.testing.assert_array_equal(c0, before)  # earlier results keep their values
    np.testing.assert_array_equal(c2, obs2)


def test_views_outlive_close():
    """A view keeps the buffers alive after close() and after the env object is gone."""
    env = apiary.make_vec("Acrobot-v1", 8, seed=4, copy=False, autoreset_mode=SAME)
    env.reset()
    obs, reward, *_ = env.step(np.ones(8, np.int64))
    expected = obs.copy()
    env.close()
    del env
    gc.collect()
    _ = [np.zeros(1000) for _ in range(100)]  # reuse freed memory, were it freed
    np.testing.assert_array_equal(obs, expected)
    assert reward.shape == (8,)


@pytest.mark.parametrize("bad, error, words", [
    ([0, 1, 2, 0], ValueError, ["CartPole-v1", "lane 2", "2", "Discrete(2)"]),
    ([0, -1, 1, 0], ValueError, ["CartPole-v1", "lane 1", "-1"]),
    (np.array([0, 0, 0, 2**40]), ValueError, ["lane 3", str(2**40)]),
    (np.array([0, 0, 0, 7], np.uint8), ValueError, ["lane 3", "7"]),
    (np.array([0.0, 1.0, 1.0, 0.0]), TypeError, ["CartPole-v1", "integers", "float64"]),
    (np.array([True, False, True, False]), TypeError, ["CartPole-v1", "bool"]),
    ([0, 1, 1], ValueError, ["CartPole-v1", "(3,)", "(4,)"]),
    (np.zeros((4, 2), np.int64), ValueError, ["CartPole-v1", "(4, 2)"]),
    (1, TypeError, ["CartPole-v1", "batch of 4 actions", "scalar"]),
    ("left", TypeError, ["CartPole-v1"]),
    (None, TypeError, ["CartPole-v1"]),
])
def test_bad_discrete_actions_raise_and_move_no_lane(bad, error, words):
    env = apiary.make_vec("CartPole-v1", 4, seed=9, copy=True)
    twin = apiary.make_vec("CartPole-v1", 4, seed=9, copy=True)
    env.reset(), twin.reset()
    with pytest.raises(error) as e:
        env.step(bad)
    for w in words:
        assert w in str(e.value), (w, str(e.value))
    # Nothing moved: the next good step matches an env that never saw the bad one.
    good = np.array([1, 0, 1, 0])
    np.testing.assert_array_equal(env.step(good)[0], twin.step(good)[0])


@pytest.mark.parametrize("bad, error, words", [
    (np.array([[0.0], [np.nan], [0.0]]), ValueError, ["Pendulum-v1", "lane 1", "nan", "not finite"]),
    (np.array([[0.0], [0.0], [np.inf]]), ValueError, ["lane 2", "inf"]),
    (np.zeros(3), ValueError, ["Pendulum-v1", "(3,)", "(3, 1)"]),
    (np.zeros((3, 2)), ValueError, ["(3, 2)"]),
    (np.array([["a"], ["b"], ["c"]]), TypeError, ["Pendulum-v1", "real numbers"]),
])
def test_bad_continuous_actions_raise(bad, error, words):
    env = apiary.make_vec("Pendulum-v1", 3, seed=9)
    env.reset()
    with pytest.raises(error) as e:
        env.step(bad)
    for w in words:
        assert w in str(e.value), (w, str(e.value))
    env.step(np.zeros((3, 1), np.float32))


def test_bad_continuous_action_names_the_lane_of_a_vector_action():
    env = apiary.make_vec("LunarLanderContinuous-v3", 2, seed=1)
    env.reset()
    with pytest.raises(ValueError, match=r"LunarLanderContinuous-v3: action nan at lane 1"):
        env.step(np.array([[0.0, 0.0], [0.0, np.nan]], np.float32))


def test_use_after_close_raises():
    env = apiary.make_vec("MountainCar-v0", 2, seed=0)
    env.reset()
    env.close()
    for call in (lambda: env.step([0, 1]), lambda: env.reset(), lambda: env.reset(seed=1)):
        with pytest.raises(RuntimeError, match="MountainCar-v0: the env is closed"):
            call()


def test_step_before_reset_raises():
    env = apiary.make_vec("CartPole-v1", 2)
    with pytest.raises(ValueError, match=r"CartPole-v1: step\(\) before reset\(\)"):
        env.step([0, 1])


def test_seeds():
    a = apiary.make_vec("CartPole-v1", 3, seed=42)
    b = apiary.make_vec("CartPole-v1", 3)
    first_a, _ = a.reset()
    first_a = first_a.copy()
    first_b, _ = b.reset(seed=42)
    np.testing.assert_array_equal(first_a, first_b)  # make_vec's seed is the first reset's
    assert a.seed == 42 and b.seed == 42
    second_a = a.reset()[0].copy()
    second_b = b.reset()[0].copy()
    assert not np.array_equal(second_a, first_a)  # reset() without a seed starts new episodes...
    np.testing.assert_array_equal(second_a, second_b)  # ...reproducibly from the first seed
    np.testing.assert_array_equal(a.reset(seed=42)[0], first_a)
    assert a.np_random_seed == (42, 42, 42)  # one per lane, as SyncVectorEnv gives them
    for bad, error in ((-1, ValueError), (2**64, ValueError), (1.5, TypeError), ([1, 5, 9], TypeError)):
        with pytest.raises(error, match="CartPole-v1"):
            a.reset(seed=bad)
    with pytest.raises(ValueError, match="options"):
        a.reset(options={"gravity": 1.0})


def test_options_and_errors_at_make():
    env = apiary.make_vec("CartPole-v1", 2, seed=0, options={"max_episode_steps": 3})
    assert env.max_episode_steps == 3
    env.reset()
    for _ in range(3):
        *_, truncated, info = env.step(np.array([0, 1]))
    assert truncated.all()
    with pytest.raises(ValueError, match="LunarLander-v3: option 'gravity' = 5 is out of range"):
        apiary.make_vec("LunarLander-v3", 1, options={"gravity": 5.0})
    with pytest.raises(ValueError, match="CartPole-v1: unknown option 'gravityy'"):
        apiary.make_vec("CartPole-v1", 1, options={"gravityy": 5.0})
    with pytest.raises(TypeError, match="option 'gravity' must be a number"):
        apiary.make_vec("CartPole-v1", 1, options={"gravity": "high"})
    with pytest.raises(ValueError, match="unknown environment id 'CartPole-v0'.*CartPole-v1"):
        apiary.make_vec("CartPole-v0", 1)
    with pytest.raises(ValueError, match="num_envs"):
        apiary.make_vec("CartPole-v1", 0)


def test_envs_lists_spaces_and_options():
    listed = apiary.envs()
    lunar = listed["LunarLander-v3"]
    assert lunar["action_space"].n == 4 and lunar["observation_space"].shape == (8,)
    assert lunar["max_episode_steps"] == 1000 and lunar["reward_threshold"] == 200
    gravity = lunar["options"]["gravity"]
    assert gravity["default"] == -10.0 and (gravity["low"], gravity["high"]) == (-12.0, 0.0)
    assert gravity["low_open"] and gravity["high_open"] and gravity["doc"]
    assert listed["CartPole-v1"]["options"]["max_episode_steps"]["default"] == 500
    assert "cpu" in listed["CartPole-v1"]["devices"]
    for env_id, d in listed.items():
        env = apiary.make_vec(env_id, 2)
        assert env.single_observation_space == d["observation_space"]
        assert env.single_action_space == d["action_space"]


def test_gil_is_released_while_stepping():
    """While one thread steps a slow env, another keeps running Python. Were the GIL held during the
    C++ step, the other thread would stall for the whole step; released, its longest pause inside a
    step is a small part of the step (the median over 8 steps is compared, against OS hiccups)."""
    env = apiary.make_vec("BipedalWalker-v3", 512, seed=0, threads=1)
    env.reset()
    actions = np.zeros((512, 4), np.float32)
    intervals, ticks, stop = [], [], threading.Event()

    def stepper():
        for _ in range(8):
            start = time.perf_counter()
            env.step(actions)
            intervals.append((start, time.perf_counter()))
        stop.set()

    thread = threading.Thread(target=stepper)
    thread.start()
    while not stop.is_set():
        ticks.append(time.perf_counter())
    thread.join()
    ticks = np.array(ticks)
    stalls = []
    for a, b in intervals:
        inside = np.concatenate(([a], ticks[(ticks > a) & (ticks < b)], [b]))
        stalls.append(np.diff(inside).max() / (b - a))
    assert np.median(stalls) < 0.5, stalls


def test_two_threads_on_one_env_get_an_error_not_a_race():
    """A step while another thread's step runs raises instead of racing on the buffers."""
    env = apiary.make_vec("BipedalWalker-v3", 512, seed=0, threads=1)
    env.reset()
    actions = np.zeros((512, 4), np.float32)
    errors, started, done = [], threading.Event(), threading.Event()

    def stepper():
        for _ in range(4):
            started.set()
            try:
                env.step(actions)
            except RuntimeError as e:
                errors.append(str(e))
        done.set()

    thread = threading.Thread(target=stepper)
    thread.start()
    started.wait()
    while not done.is_set():
        try:
            env.step(actions)
        except RuntimeError as e:
            errors.append(str(e))
        time.sleep(0.001)
    thread.join()
    assert errors
    for e in errors:
        assert "BipedalWalker-v3: step() while another thread is using this env" in e
    env.step(actions)
    env.close()


def test_threads_property():
    env = apiary.make_vec("LunarLander-v3", 4, seed=0, threads=1)
    assert env.threads == 1
    env.threads = 2
    assert env.threads == 2
    with pytest.raises(ValueError, match="threads"):
        env.threads = -1


def test_any_array_like_is_an_action_batch():
    class Tensorish:  # what torch tensors and other array libraries offer numpy
        def __init__(self, values):
            self.values = values

        def __array__(self, dtype=None):
            return np.asarray(self.values, dtype=dtype)

    env = apiary.make_vec("CartPole-v1", 3, seed=0, copy=True)
    twin = apiary.make_vec("CartPole-v1", 3, seed=0, copy=True)
    env.reset(), twin.reset()
    for actions in ([0, 1, 1], (1, 0, 1), Tensorish([1, 1, 0]), np.array([0, 0, 1], np.uint8),
                    np.array([1, 0, 0, 1, 1, 1])[::2], np.array([[1], [0], [1]], np.int16)):
        np.testing.assert_array_equal(env.step(actions)[0],
                                      twin.step(np.asarray(actions, np.int64).reshape(3))[0])


MINATAR_IDS = ["MinAtar/Asterix-v1", "MinAtar/Breakout-v0", "MinAtar/Freeway-v1", "MinAtar/Seaquest-v1",
               "MinAtar/SpaceInvaders-v1"]


@pytest.mark.parametrize("env_id", MINATAR_IDS)
def test_image_envs_give_uint8_arrays_and_uint8_spaces(env_id):
    """Image observations stay uint8 through Python: the arrays, final_obs and both spaces, with the
    env's (10, 10, C) channels-last shape; values are MinAtar's 0/1 bytes."""
    env = apiary.make_vec(env_id, 3, seed=4, autoreset_mode=SAME)
    obs, _ = env.reset(seed=4)
    assert obs.dtype == np.uint8 and obs.shape[:3] == (3, 10, 10)
    space = env.single_observation_space
    assert space.dtype == np.uint8 and space.shape == obs.shape[1:]
    assert env.observation_space.dtype == np.uint8 and env.observation_space.shape == obs.shape
    assert "uint8" in repr(space) and int(space.low.min()) == 0 and int(space.high.max()) == 1
    rng = np.random.default_rng(0)
    ended = 0
    for _ in range(300):
        obs, reward, terminated, truncated, info = env.step(rng.integers(0, env.single_action_space.n, size=3))
        assert obs.dtype == np.uint8 and set(np.unique(obs)) <= {0, 1}
        assert space.contains(obs[0].copy())
        if "final_obs" in info:
            mask = info["_final_obs"]
            ended += int(mask.sum())
            finals = [f for f, m in zip(info["final_obs"], mask) if m]
            assert all(np.asarray(f).dtype == np.uint8 for f in finals)
    env.close()
    if env_id != "MinAtar/Freeway-v1":  # Freeway's episodes last 2500 steps
        assert ended > 0


def test_frame_stack_option_stacks_minatar_frames_on_the_channels():
    env = apiary.make_vec("MinAtar/Breakout-v1", 2, seed=1, options={"frame_stack": 4})
    obs, _ = env.reset(seed=1)
    assert obs.shape == (2, 10, 10, 16) and obs.dtype == np.uint8
    # Right after reset the four frames are the same frame.
    for k in range(1, 4):
        assert np.array_equal(obs[..., 4 * k:4 * k + 4], obs[..., 0:4])
    env.close()
