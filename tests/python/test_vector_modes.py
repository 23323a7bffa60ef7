"""apiary.make_vec as a drop-in for Gymnasium 1.x's vector envs, without gymnasium (issue 28): the
defaults (copies, NEXT_STEP autoreset, no info["episode"]), each autoreset mode against the same-step
C++ core it is built on, per-lane resets, seeds, the sub-environment methods, sizes, pickling and the
single env; and Gymnasium's tests/vector checks (spaces, seeding, step types and dtypes, the info
structure, close, action validation) for every bundled env. The comparisons with Gymnasium's own
classes are in test_gymnasium.py."""

import copy
import pickle

import numpy as np
import pytest

import apiary
from actions import random_actions
from apiary import AutoresetMode

NEXT, SAME, DISABLED = AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP, AutoresetMode.DISABLED
ALL_IDS = sorted(apiary.envs())


def assert_same_step(a, b, what=""):
    """Two step() results are equal: arrays exactly (NaN equal to NaN), info keys and arrays."""
    for x, y, name in zip(a[:4], b[:4], ("obs", "reward", "terminated", "truncated")):
        assert x.dtype == y.dtype and x.shape == y.shape, (what, name)
        np.testing.assert_array_equal(x, y, err_msg=f"{what} {name}")
    assert set(a[4]) == set(b[4]), what


# ---- defaults ------------------------------------------------------------------------------------------

def test_defaults_are_gymnasiums():
    env = apiary.make_vec("CartPole-v1", 3, seed=0)
    assert env.copy is True and env.episode_stats is False
    assert env.autoreset_mode is NEXT and env.metadata["autoreset_mode"] is NEXT
    assert env.metadata["render_modes"] == ["rgb_array"] and env.metadata["render_fps"] == 50 and env.render_mode is None
    assert apiary.make_vec("Acrobot-v1", 1).metadata["render_fps"] == 15
    assert apiary.make_vec("Pendulum-v1", 1).metadata["render_fps"] == 30
    assert env.spec.id == "apiary/CartPole-v1" and env.spec.max_episode_steps == 500
    assert env.spec.reward_threshold == 475 and env.spec.vector_entry_point == "apiary.env:make_vector_env"
    assert env.spec.kwargs["env_id"] == "CartPole-v1" and env.spec.kwargs["num_envs"] == 3
    obs, info = env.reset()
    obs, reward, terminated, truncated, info = env.step(np.array([0, 1, 0]))
    assert obs.dtype == np.float32 and reward.dtype == np.float64  # SyncVectorEnv's rewards are float64
    assert terminated.dtype == np.bool_ and truncated.dtype == np.bool_
    assert info == {}


def test_unbounded_box_elements_are_infinite():
    """Gymnasium 1.4's CartPole has +-inf for the velocities, so Box == Box holds."""
    space = apiary.make_vec("CartPole-v1", 2).single_observation_space
    np.testing.assert_array_equal(space.high, np.array([4.8, np.inf, 0.41887903, np.inf], np.float32))
    np.testing.assert_array_equal(space.low, -space.high)
    assert space.dtype == np.float32


@pytest.mark.parametrize("actions", [0, 1, np.int64(1), np.array(1), None, "left"])
def test_a_scalar_action_is_a_type_error(actions):
    env = apiary.make_vec("CartPole-v1", 2, seed=0)
    env.reset()
    with pytest.raises(TypeError, match="CartPole-v1: step\\(\\) takes a batch of 2 actions"):
        env.step(actions)


# ---- copies ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", [NEXT, SAME, DISABLED])
def test_dqn_pattern_keeps_obs_and_next_obs_apart(mode):
    """CleanRL's dqn.py: rb.add(obs, next_obs, ...); obs = next_obs. With the default copy=True every
    call's arrays are its own: the stored pairs differ, and each next_obs is the following obs."""
    env = apiary.make_vec("CartPole-v1", 4, seed=1, autoreset_mode=mode)
    obs, _ = env.reset()
    stored = []
    rng = np.random.default_rng(0)
    for _ in range(200):
        next_obs, reward, terminated, truncated, info = env.step(rng.integers(0, 2, size=4))
        stored.append((obs, next_obs, reward))
        if mode is DISABLED and (terminated | truncated).any():
            next_obs, _ = env.reset(options={"reset_mask": terminated | truncated})
        obs = next_obs
    differ = sum(not np.array_equal(o, n) for o, n, _ in stored)
    assert differ == 200
    for (o, n, r), (o2, n2, r2) in zip(stored, stored[1:]):
        assert not np.shares_memory(o, n) and not np.shares_memory(r, r2)
    if mode is not DISABLED:
        for (_, n, _), (o2, _, _) in zip(stored, stored[1:]):
            assert n is o2


@pytest.mark.parametrize("mode", [NEXT, SAME, DISABLED])
def test_copy_false_returns_the_same_arrays_with_the_same_values(mode):
    """copy=False: one set of arrays, overwritten by each call, holding what copy=True returns."""
    fast = apiary.make_vec("CartPole-v1", 5, seed=2, copy=False, autoreset_mode=mode)
    slow = apiary.make_vec("CartPole-v1", 5, seed=2, copy=True, autoreset_mode=mode)
    first = fast.reset()[0]
    np.testing.assert_array_equal(first, slow.reset()[0])
    arrays = None
    rng = np.random.default_rng(1)
    for t in range(150):
        actions = rng.integers(0, 2, size=5)
        a, b = fast.step(actions), slow.step(actions)
        assert_same_step(a, b, f"step {t}")
        if arrays is None:
            arrays = a[:4]
            assert a[0] is first or np.shares_memory(a[0], first)
        for x, y in zip(a[:4], arrays):
            assert x is y
        ended = b[2] | b[3]
        if mode is DISABLED and ended.any():
            np.testing.assert_array_equal(fast.reset(options={"reset_mask": ended})[0],
                                          slow.reset(options={"reset_mask": ended})[0])


def test_copy_false_never_writes_into_the_envs_state():
    """Frame stacking keeps its stack in the observation buffer: with copy=False the patched rows of
    the next-step and disabled modes are written into the env's own output arrays, never into the
    buffer, so the episodes are those of copy=True."""
    for mode in (NEXT, DISABLED):
        fast = apiary.make_vec("MinAtar/Breakout-v1", 4, seed=3, copy=False, autoreset_mode=mode,
                               options={"frame_stack": 3})
        slow = apiary.make_vec("MinAtar/Breakout-v1", 4, seed=3, autoreset_mode=mode, options={"frame_stack": 3})
        np.testing.assert_array_equal(fast.reset()[0], slow.reset()[0])
        rng = np.random.default_rng(4)
        ended_total = 0
        for t in range(400):
            actions = rng.integers(0, 3, size=4)
            a, b = fast.step(actions), slow.step(actions)
            assert_same_step(a, b, f"{mode} step {t}")
            ended = b[2] | b[3]
            ended_total += int(ended.sum())
            if mode is DISABLED and ended.any():
                np.testing.assert_array_equal(fast.reset(options={"reset_mask": ended})[0],
                                              slow.reset(options={"reset_mask": ended})[0])
        assert ended_total > 0


# ---- the autoreset modes -------------------------------------------------------------------------------

@pytest.mark.parametrize("env_id", ["CartPole-v1", "Acrobot-v1", "LunarLander-v3", "MinAtar/Breakout-v1",
                                    "Pendulum-v1"])
def test_next_step_is_same_step_one_step_late(env_id):
    """One lane: NEXT_STEP shows an episode's last observation on the step it ends, then a reset step
    (the action ignored, reward 0, flags false) showing the next episode's first observation; a
    SAME_STEP twin that skips the reset steps meets the same observations, rewards and flags."""
    options = {"max_episode_steps": 30}
    nxt = apiary.make_vec(env_id, 1, seed=5, options=options)
    same = apiary.make_vec(env_id, 1, seed=5, options=options, autoreset_mode=SAME)
    np.testing.assert_array_equal(nxt.reset()[0], same.reset()[0])
    actions = random_actions(nxt, 200, np.random.default_rng(6))
    first_of_next = None
    resets = 0
    for t in range(200):
        obs, reward, terminated, truncated, info = nxt.step(actions[t])
        assert info == {}
        if first_of_next is not None:  # the reset step
            np.testing.assert_array_equal(obs, first_of_next)
            assert reward[0] == 0.0 and not terminated[0] and not truncated[0]
            first_of_next = None
            resets += 1
            continue
        s_obs, s_reward, s_terminated, s_truncated, s_info = same.step(actions[t])
        np.testing.assert_array_equal(reward, s_reward)
        np.testing.assert_array_equal(terminated, s_terminated)
        np.testing.assert_array_equal(truncated, s_truncated)
        if s_terminated[0] or s_truncated[0]:
            np.testing.assert_array_equal(obs[0], s_info["final_obs"][0])
            first_of_next = s_obs.copy()
        else:
            np.testing.assert_array_equal(obs, s_obs)
    assert resets >= 3


def test_next_step_holds_every_lane_that_ended():
    """Many lanes ending together (a short time limit on Pendulum, which never terminates): the step
    after they end is a reset step for all, and from then on NEXT_STEP is SAME_STEP one step late.
    13 lanes: the final observations are found eight flags at a time and then one at a time."""
    n, limit = 13, 5
    nxt = apiary.make_vec("Pendulum-v1", n, seed=7, options={"max_episode_steps": limit})
    same = apiary.make_vec("Pendulum-v1", n, seed=7, options={"max_episode_steps": limit}, autoreset_mode=SAME)
    nxt.reset(), same.reset()
    actions = random_actions(nxt, 40, np.random.default_rng(8))
    shown = None
    s = 0
    for t in range(40):
        obs, reward, terminated, truncated, info = nxt.step(actions[t])
        if t % (limit + 1) == limit:  # the reset step
            np.testing.assert_array_equal(obs, shown)
            assert not reward.any() and not terminated.any() and not truncated.any()
            continue
        s_obs, s_reward, s_terminated, s_truncated, s_info = same.step(actions[t])
        np.testing.assert_array_equal(reward, s_reward)
        np.testing.assert_array_equal(truncated, s_truncated)
        if s_truncated.all():
            np.testing.assert_array_equal(obs, np.stack(s_info["final_obs"]))
            shown = s_obs.copy()
        else:
            assert not s_truncated.any()
            np.testing.assert_array_equal(obs, s_obs)
        s += 1
    assert s < 40


def test_next_step_structure_with_lanes_ending_apart():
    """Lanes ending on different steps: a lane's reset step comes right after its episode ended, and
    only there; reward 0 and flags false on it; CartPole's first observations are within its reset
    noise, and a terminal observation is past a limit."""
    n = 16
    env = apiary.make_vec("CartPole-v1", n, seed=9)
    env.reset()
    rng = np.random.default_rng(10)
    previous_ended = np.zeros(n, bool)
    resets = 0
    for _ in range(300):
        obs, reward, terminated, truncated, info = env.step(rng.integers(0, 2, size=n))
        assert info == {}
        np.testing.assert_array_equal(reward == 0.0, previous_ended)  # CartPole pays 1 for every real step
        assert not (terminated | truncated)[previous_ended].any()
        assert (np.abs(obs[previous_ended]) <= 0.05).all()
        for lane in np.flatnonzero(terminated):
            assert abs(obs[lane, 0]) > 2.4 or abs(obs[lane, 2]) > 12 * 2 * np.pi / 360
        resets += int(previous_ended.sum())
        previous_ended = terminated | truncated
    assert resets > 50


def test_next_step_ignores_the_reset_steps_action():
    a = apiary.make_vec("CartPole-v1", 1, seed=11)
    b = apiary.make_vec("CartPole-v1", 1, seed=11)
    a.reset(), b.reset()
    for _ in range(100):
        *_, terminated, truncated, _ = a.step(np.ones(1, np.int64))
        b.step(np.ones(1, np.int64))
        if terminated[0] or truncated[0]:
            break
    assert_same_step(a.step(np.zeros(1, np.int64)), b.step(np.ones(1, np.int64)), "reset step")
    assert_same_step(a.step(np.zeros(1, np.int64)), b.step(np.zeros(1, np.int64)), "after")


@pytest.mark.parametrize("env_id", ["CartPole-v1", "LunarLanderContinuous-v3", "MinAtar/Asterix-v1"])
def test_disabled_reset_of_the_ended_lanes_is_same_step(env_id):
    """DISABLED: an ended lane shows its last observation, and step() is refused until
    reset(options={"reset_mask": ...}) covers it; resetting exactly the ended lanes gives the episodes a
    SAME_STEP env gives, lane for lane."""
    n = 5
    dis = apiary.make_vec(env_id, n, seed=12, autoreset_mode=DISABLED, options={"max_episode_steps": 40})
    same = apiary.make_vec(env_id, n, seed=12, autoreset_mode=SAME, options={"max_episode_steps": 40})
    np.testing.assert_array_equal(dis.reset()[0], same.reset()[0])
    actions = random_actions(dis, 150, np.random.default_rng(13))
    resets = 0
    for t in range(150):
        obs, reward, terminated, truncated, info = dis.step(actions[t])
        s_obs, s_reward, s_terminated, s_truncated, s_info = same.step(actions[t])
        np.testing.assert_array_equal(reward, s_reward)
        np.testing.assert_array_equal(terminated, s_terminated)
        np.testing.assert_array_equal(truncated, s_truncated)
        assert info == {}
        ended = terminated | truncated
        if not ended.any():
            np.testing.assert_array_equal(obs, s_obs)
            continue
        for lane in range(n):
            np.testing.assert_array_equal(obs[lane], s_info["final_obs"][lane] if ended[lane] else s_obs[lane])
        with pytest.raises(ValueError, match=f"{env_id}: step\\(\\) with lane\\(s\\) .* ended and not reset"):
            dis.step(actions[t])
        reset_obs, reset_info = dis.reset(options={"reset_mask": ended})
        assert reset_info == {}
        np.testing.assert_array_equal(reset_obs, s_obs)
        resets += 1
    assert resets > 0


def test_a_partial_reset_leaves_other_lanes_and_an_unreset_ended_lane_shows_its_end():
    n = 6
    env = apiary.make_vec("CartPole-v1", n, seed=14, autoreset_mode=DISABLED)
    obs, _ = env.reset()
    rng = np.random.default_rng(15)
    while True:
        obs, reward, terminated, truncated, info = env.step(rng.integers(0, 2, size=n))
        ended = terminated | truncated
        if ended.any() and not ended.all():
            break
    lane = int(np.flatnonzero(ended)[0])
    other = int(np.flatnonzero(~ended)[0])
    # Reset one lane that did not end: a new episode from its stream; the ended lanes stay ended.
    mask = np.zeros(n, bool)
    mask[other] = True
    again, _ = env.reset(options={"reset_mask": mask})
    assert np.abs(again[other]).max() <= 0.05 and not np.array_equal(again[other], obs[other])
    keep = ~mask
    np.testing.assert_array_equal(again[keep], obs[keep])  # the ended lanes still show their last observation
    with pytest.raises(ValueError, match=f"lane\\(s\\) {lane}"):
        env.step(np.zeros(n, np.int64))
    again, _ = env.reset(options={"reset_mask": ended})
    assert np.abs(again[ended]).max() <= 0.05
    obs, reward, *_ = env.step(np.zeros(n, np.int64))
    assert (reward == 1.0).all()


def test_next_step_reset_mask_cancels_the_reset_step():
    """NEXT_STEP: resetting a lane whose episode just ended shows its new episode now, and its next
    step is a real one (SyncVectorEnv clears its autoreset flag)."""
    env = apiary.make_vec("CartPole-v1", 3, seed=16)
    env.reset()
    while True:
        obs, reward, terminated, truncated, info = env.step(np.ones(3, np.int64))
        ended = terminated | truncated
        if ended.any():
            break
    obs, _ = env.reset(options={"reset_mask": ended})
    assert np.abs(obs[ended]).max() <= 0.05
    obs, reward, terminated, truncated, _ = env.step(np.ones(3, np.int64))
    assert (reward == 1.0).all()


@pytest.mark.parametrize("mask, error, words", [
    ([True, False, True], TypeError, "must be a numpy array"),
    (np.array([True, False]), ValueError, "must have shape `(3,)`"),
    (np.array([1, 0, 1]), TypeError, "must have `dtype=np.bool_`"),
    (np.zeros(3, bool), ValueError, "at least one True value"),
])
def test_reset_mask_is_checked_as_sync_vector_env_checks_it(mask, error, words):
    env = apiary.make_vec("CartPole-v1", 3, seed=0)
    env.reset()
    with pytest.raises(error) as e:
        env.reset(options={"reset_mask": mask})
    assert words in str(e.value)


def test_reset_mask_options_are_not_consumed_and_other_options_refused():
    env = apiary.make_vec("CartPole-v1", 2, seed=0)
    with pytest.raises(ValueError, match="CartPole-v1: reset\\(options=\\{'reset_mask': ...\\}\\) before reset\\(\\)"):
        env.reset(options={"reset_mask": np.array([True, False])})
    env.reset()
    options = {"reset_mask": np.array([True, False])}
    env.reset(options=options)
    assert "reset_mask" in options  # the caller's dict is left as it was
    with pytest.raises(ValueError, match="no options besides reset_mask"):
        env.reset(options={"reset_mask": np.array([True, False]), "gravity": 1.0})
    with pytest.raises(ValueError, match="masked lanes go on with their own random streams"):
        env.reset(seed=3, options={"reset_mask": np.array([True, False])})


def test_same_step_info_is_gymnasiums():
    """SAME_STEP: final_obs an object array, None where the lane did not finish; the dense array as
    final_obs_dense; final_info {} and the masks; episode statistics only when asked for."""
    n = 4
    for stats in (False, True):
        env = apiary.make_vec("CartPole-v1", n, seed=17, autoreset_mode=SAME, episode_stats=stats)
        env.reset()
        rng = np.random.default_rng(18)
        seen = 0
        for _ in range(200):
            obs, reward, terminated, truncated, info = env.step(rng.integers(0, 2, size=n))
            if not info:
                continue
            ended = terminated | truncated
            keys = {"final_obs", "_final_obs", "final_info", "_final_info", "final_obs_dense"}
            assert set(info) == keys | ({"episode", "_episode"} if stats else set())
            np.testing.assert_array_equal(info["_final_obs"], ended)
            np.testing.assert_array_equal(info["_final_info"], ended)
            assert info["final_info"] == {}
            final = info["final_obs"]
            assert final.dtype == object and final.shape == (n,)
            for lane in range(n):
                if ended[lane]:
                    assert final[lane].dtype == np.float32 and final[lane].shape == (4,)
                    np.testing.assert_array_equal(final[lane], info["final_obs_dense"][lane])
                else:
                    assert final[lane] is None
            assert info["final_obs_dense"].shape == (n, 4)
            seen += 1
        assert seen > 5


def test_episode_statistics_in_next_step_mode():
    """episode_stats=True with NEXT_STEP: info["episode"] on the step an episode ends, as
    RecordEpisodeStatistics writes it on a next-step env."""
    env = apiary.make_vec("CartPole-v1", 3, seed=19, episode_stats=True)
    env.reset()
    lengths = np.zeros(3, np.int64)
    for _ in range(200):
        obs, reward, terminated, truncated, info = env.step(np.ones(3, np.int64))
        lengths += (reward > 0)
        ended = terminated | truncated
        if ended.any():
            assert set(info) == {"episode", "_episode"}
            np.testing.assert_array_equal(info["_episode"], ended)
            np.testing.assert_array_equal(info["episode"]["l"][ended], lengths[ended])
            np.testing.assert_array_equal(info["episode"]["r"][ended], lengths[ended])
            lengths[ended] = 0
        else:
            assert info == {}


@pytest.mark.parametrize("mode", ["NextStep", "NEXT_STEP", "next_step", "SameStep", "Disabled"])
def test_autoreset_mode_by_value_or_name(mode):
    env = apiary.make_vec("CartPole-v1", 2, autoreset_mode=mode)
    assert env.metadata["autoreset_mode"].value.lower().replace("_", "") == mode.lower().replace("_", "")
    with pytest.raises(ValueError, match="autoreset_mode must be one of NEXT_STEP, SAME_STEP, DISABLED"):
        apiary.make_vec("CartPole-v1", 2, autoreset_mode="sometimes")


# ---- seeds and the sub-environment methods ---------------------------------------------------------------

def test_seed_lists():
    n = 3
    env = apiary.make_vec("CartPole-v1", n)
    by_int = env.reset(seed=42)[0]
    np.testing.assert_array_equal(env.reset(seed=[42, 43, 44])[0], by_int)  # SyncVectorEnv's form of 42
    np.testing.assert_array_equal(env.reset(seed=np.array([42, 43, 44]))[0], by_int)
    np.testing.assert_array_equal(env.reset(seed=np.int64(42))[0], by_int)
    assert env.np_random_seed == (42, 42, 42)
    env.reset(seed=[None, None, None])
    with pytest.raises(TypeError, match="a seed per lane is not supported: one int seeds the whole batch"):
        env.reset(seed=[1, 5, 9])
    with pytest.raises(ValueError, match="length must match num_envs=3 but got length=2"):
        env.reset(seed=[1, 2])


def test_np_random_seed_is_a_tuple_per_lane():
    env = apiary.make_vec("CartPole-v1", 4, seed=7)
    assert env.np_random_seed == (None,) * 4
    env.reset()
    assert env.np_random_seed == (7,) * 4
    assert env.get_attr("np_random_seed") == (7,) * 4
    env.reset(seed=9)
    assert env.np_random_seed == (9,) * 4 and isinstance(env.np_random, np.random.Generator)


def test_get_attr_call_set_attr():
    env = apiary.make_vec("CartPole-v1", 3, options={"gravity": 5.0})
    assert env.get_attr("gravity") == (5.0, 5.0, 5.0)
    assert env.get_attr("masscart") == (1.0,) * 3 and env.get_attr("tau") == (0.02,) * 3
    assert env.get_attr("max_episode_steps") == (500,) * 3
    assert env.get_attr("observation_space") == (env.single_observation_space,) * 3
    assert env.get_attr("action_space")[0] == env.single_action_space
    assert env.get_attr("spec") == (env.spec,) * 3
    assert env.call("gravity") == (5.0,) * 3
    with pytest.raises(AttributeError, match="the lanes have no attribute 'nothing'"):
        env.get_attr("nothing")
    with pytest.raises(AttributeError, match="env options are fixed when the env is made"):
        env.set_attr("gravity", 1.0)
    with pytest.raises(AttributeError, match="env options are fixed"):
        env.set_attr("gravity", [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="length equal to the number of environments"):
        env.set_attr("gravity", [1.0])
    assert env.get_wrapper_attr("env_id") == "CartPole-v1"
    assert env.get_wrapper_attr("num_envs") == 3


# ---- sizes -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("num_envs", [10**9, 2**40, 2**70, 2**24 + 1, 0, -1])
def test_num_envs_outside_the_command_lines_range_is_refused_at_once(num_envs):
    with pytest.raises(ValueError, match=r"CartPole-v1: num_envs must be in \[1, 2\*\*24\] \(16777216"):
        apiary.make_vec("CartPole-v1", num_envs)


@pytest.mark.parametrize("num_envs", [2.0, "8", True, None])
def test_num_envs_must_be_an_int(num_envs):
    with pytest.raises(TypeError, match="num_envs must be an int"):
        apiary.make_vec("CartPole-v1", num_envs)


def test_lanes_that_cannot_fit_in_memory_are_refused_before_allocating():
    """2**24 lanes of 64 stacked Seaquest frames would take terabytes: refused, naming the bytes."""
    with pytest.raises(MemoryError) as e:
        apiary.make_vec("MinAtar/Seaquest-v1", 2**24, options={"frame_stack": 64})
    assert "MinAtar/Seaquest-v1" in str(e.value) and "bytes" in str(e.value)


# ---- pickling ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("env_id, mode", [("CartPole-v1", NEXT), ("CartPole-v1", SAME), ("CartPole-v1", DISABLED),
                                          ("LunarLander-v3", NEXT), ("BipedalWalker-v3", SAME),
                                          ("MinAtar/Breakout-v1", NEXT), ("Pendulum-v1", NEXT)])
def test_pickle_and_deepcopy_continue_exactly(env_id, mode):
    """An env pickled mid-run (and one deep-copied) goes on as the original does, step for step,
    including lanes waiting for their reset step."""
    n = 4
    env = apiary.make_vec(env_id, n, seed=21, autoreset_mode=mode, options={"max_episode_steps": 25},
                          episode_stats=True)
    env.reset()
    actions = random_actions(env, 120, np.random.default_rng(22))
    t, ended = 0, np.zeros(n, bool)
    while t < 60 or (mode is not SAME and not ended.any() and t < 100):  # stop where some lane waits
        *_, terminated, truncated, _ = env.step(actions[t])
        ended = terminated | truncated
        t += 1
        if mode is DISABLED and ended.any():
            break
    copies = [pickle.loads(pickle.dumps(env)), copy.deepcopy(env)]
    for c in copies:
        assert c.autoreset_mode is mode and c.num_envs == n and c.seed == env.seed
    for u in range(t, 120):
        if mode is DISABLED and ended.any():
            expected = env.reset(options={"reset_mask": ended})[0]
            for c in copies:
                np.testing.assert_array_equal(c.reset(options={"reset_mask": ended})[0], expected)
        result = env.step(actions[u])
        ended = result[2] | result[3]
        for c in copies:
            other = c.step(actions[u])
            assert_same_step(other, result, f"{env_id} step {u}")
            if "episode" in result[4]:
                np.testing.assert_array_equal(other[4]["episode"]["r"], result[4]["episode"]["r"])
                np.testing.assert_array_equal(other[4]["episode"]["l"], result[4]["episode"]["l"])
    # A seedless reset draws the same next seed in both.
    np.testing.assert_array_equal(copies[0].reset()[0], env.reset()[0])


def test_pickle_before_reset_and_after_close():
    env = apiary.make_vec("Acrobot-v1", 2, seed=3, threads=2)
    clone = pickle.loads(pickle.dumps(env))
    assert clone.threads == 2
    np.testing.assert_array_equal(clone.reset()[0], env.reset()[0])
    with pytest.raises(ValueError, match="step\\(\\) before reset\\(\\)"):
        pickle.loads(pickle.dumps(apiary.make_vec("Acrobot-v1", 2))).step(np.zeros(2, np.int64))
    env.close()
    with pytest.raises(TypeError, match="Acrobot-v1: cannot pickle a closed env"):
        pickle.dumps(env)


def test_pickle_keeps_the_action_spaces_random_stream():
    env = apiary.make_vec("CartPole-v1", 3, seed=0)
    env.action_space.seed(5)
    env.action_space.sample()
    clone = pickle.loads(pickle.dumps(env))
    np.testing.assert_array_equal(clone.action_space.sample(), env.action_space.sample())


# ---- the single env ----------------------------------------------------------------------------------

def test_single_env():
    env = apiary.SingleEnv("CartPole-v1")
    obs, info = env.reset(seed=3)
    assert obs.shape == (4,) and obs.dtype == np.float32 and info == {}
    first = obs.copy()
    np.testing.assert_array_equal(env.reset(seed=3)[0], first)
    assert env.metadata == {"render_modes": ["rgb_array"], "render_fps": 50} and env.render_mode is None
    assert env.spec.id == "apiary/CartPole-v1" and env.max_episode_steps == 500
    steps = 0
    while True:
        obs, reward, terminated, truncated, info = env.step(1)
        steps += 1
        assert type(reward) is float and type(terminated) is bool and type(truncated) is bool and info == {}
        if terminated or truncated:
            break
    assert terminated and steps < 100
    with pytest.raises(ValueError, match="CartPole-v1: step\\(\\) after the episode ended"):
        env.step(0)
    second, _ = env.reset()  # the next episode of the env's stream
    assert np.abs(second).max() <= 0.05 and not np.array_equal(second, first)
    env.step(np.int64(0))
    with pytest.raises(ValueError, match="outside Discrete\\(2\\)"):
        env.step(2)
    with pytest.raises(TypeError, match="must be integers"):
        env.step(0.5)
    with pytest.raises(ValueError, match="no options"):
        env.reset(options={"gravity": 1.0})
    with pytest.raises(ValueError, match=r"render_mode='human'; this env's render modes are \['rgb_array'\]"):
        apiary.SingleEnv("CartPole-v1", render_mode="human")


def test_single_env_options_time_limit_and_pickle():
    env = apiary.SingleEnv("Pendulum-v1", max_episode_steps=7, g=5.0)
    assert env.options["g"] == 5.0 and env.max_episode_steps == 7
    env.reset(seed=1)
    for t in range(7):
        obs, reward, terminated, truncated, _ = env.step(np.array([0.5], np.float32))
        assert obs.shape == (3,) and truncated == (t == 6) and not terminated
    env.reset()
    env.step(np.array([0.1], np.float32))
    clone = pickle.loads(pickle.dumps(env))
    for _ in range(3):
        a = env.step(np.array([0.2], np.float32))
        b = clone.step(np.array([0.2], np.float32))
        np.testing.assert_array_equal(a[0], b[0])
        assert a[1:4] == b[1:4]


# ---- Gymnasium's tests/vector checks, for every bundled env --------------------------------------------

@pytest.mark.parametrize("env_id", ALL_IDS)
def test_vector_env_checks(env_id):
    """Spaces, seeding, step types and dtypes, each autoreset mode's info structure, close and action
    validation (Gymnasium's tests/vector/test_vector_env.py, test_sync_vector_env.py,
    test_vector_env_info.py and test_autoreset_mode.py, against apiary.make_vec)."""
    n = 3
    listed = apiary.envs()[env_id]
    for mode in (NEXT, SAME, DISABLED):
        env = apiary.make_vec(env_id, n, seed=1, autoreset_mode=mode, options={"max_episode_steps": 12})
        # Spaces: the batched spaces are batch_space of the single ones.
        single_obs, single_act = env.single_observation_space, env.single_action_space
        assert single_obs == listed["observation_space"] and single_act == listed["action_space"]
        assert env.observation_space.shape == (n,) + single_obs.shape
        assert env.observation_space.dtype == single_obs.dtype
        if single_act.shape == ():
            np.testing.assert_array_equal(env.action_space.nvec, np.full(n, single_act.n))
        else:
            assert env.action_space.shape == (n,) + single_act.shape
            np.testing.assert_array_equal(env.action_space.low[0], single_act.low)
        assert env.metadata["autoreset_mode"] is mode
        # Seeding: reset(seed) is reproducible, another seed differs.
        obs, info = env.reset(seed=123)
        assert info == {} and obs in env.observation_space
        again = env.reset(seed=123)[0]
        np.testing.assert_array_equal(obs, again)
        env.action_space.seed(0)
        ended_steps, ended = 0, np.zeros(n, bool)
        for t in range(30):
            ended_before = ended
            if mode is DISABLED and ended_before.any():
                obs, info = env.reset(options={"reset_mask": ended_before})
                assert info == {} and obs in env.observation_space
            obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
            # Step types and dtypes.
            assert obs.shape == env.observation_space.shape and obs.dtype == single_obs.dtype
            assert obs in env.observation_space
            assert reward.shape == (n,) and reward.dtype == np.float64
            assert terminated.shape == (n,) and terminated.dtype == np.bool_
            assert truncated.shape == (n,) and truncated.dtype == np.bool_
            assert isinstance(info, dict)
            ended = terminated | truncated
            if mode is SAME:
                assert (set(info) == {"final_obs", "_final_obs", "final_info", "_final_info", "final_obs_dense"}
                        if ended.any() else info == {})
                for lane in np.flatnonzero(ended):
                    assert info["final_obs"][lane] in single_obs
            else:
                assert info == {}
                if mode is NEXT:  # the reset step: reward 0, flags false
                    assert not reward[ended_before].any() and not ended[ended_before].any()
            ended_steps += int(ended.any())
        assert ended_steps > 0  # the time limit of 12 ends every lane's episode
        # Action validation: a batch of the wrong shape, a scalar, values outside the space.
        with pytest.raises((ValueError, TypeError)):
            env.step(np.zeros((n + 1,) + single_act.shape, single_act.dtype))
        with pytest.raises(TypeError):
            env.step(0)
        # Close: idempotent, and the env refuses to step afterwards.
        env.close()
        assert env.closed
        env.close()
        with pytest.raises(RuntimeError, match="the env is closed"):
            env.step(env.action_space.sample())
