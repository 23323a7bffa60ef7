"""With the real gymnasium importable (skipped otherwise; it is not a dependency, and CI has none):
apiary.make_vec against Gymnasium's own classes (issue 28). The spaces are gymnasium's and equal to
Gymnasium's envs' own; each autoreset mode steps as SyncVectorEnv does on the same actions (CartPole
from equal states, so the dynamics are compared too); Gymnasium's vector wrappers run on the default
env; `import apiary` registers the envs, so gymnasium.make gives a single env that passes check_env and
gymnasium.make_vec the batched one."""

import warnings

import numpy as np
import pytest

gymnasium = pytest.importorskip(
    "gymnasium", reason="gymnasium is not installed: Apiary's comparisons with Gymnasium's own classes are skipped "
    "(put a Gymnasium 1.x checkout on PYTHONPATH to run them)")
from gymnasium.utils.env_checker import check_env  # noqa: E402
from gymnasium.vector import AutoresetMode, SyncVectorEnv  # noqa: E402
from gymnasium.wrappers import vector as vector_wrappers  # noqa: E402

import apiary  # noqa: E402

NEXT, SAME, DISABLED = AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP, AutoresetMode.DISABLED
ALL_IDS = sorted(apiary.envs())
# Gymnasium's envs that it makes without optional dependencies (Box2D's need the box2d package).
CLASSIC_IDS = ["CartPole-v1", "Acrobot-v1", "MountainCar-v0", "MountainCarContinuous-v0", "Pendulum-v1"]


def test_spaces_and_base_class_are_gymnasiums():
    env = apiary.make_vec("LunarLanderContinuous-v3", 4, seed=0)
    assert isinstance(env, gymnasium.vector.VectorEnv)
    assert isinstance(env.single_observation_space, gymnasium.spaces.Box)
    assert isinstance(env.action_space, gymnasium.spaces.Box) and env.action_space.shape == (4, 2)
    assert env.metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP
    assert apiary.AutoresetMode is AutoresetMode
    assert isinstance(env.spec, gymnasium.envs.registration.EnvSpec)
    for env_id in ALL_IDS:
        env = apiary.make_vec(env_id, 3, seed=0)
        assert gymnasium.vector.utils.batch_space(env.single_action_space, 3) == env.action_space
        assert gymnasium.vector.utils.batch_space(env.single_observation_space, 3) == env.observation_space


@pytest.mark.parametrize("env_id", CLASSIC_IDS)
def test_spaces_equal_gymnasiums_envs(env_id):
    """Box == Box with Gymnasium 1.4's own envs (CartPole's unbounded velocities are +-inf in both)."""
    ours = apiary.make_vec(env_id, 2)
    theirs = gymnasium.make(env_id)
    assert ours.single_observation_space == theirs.observation_space, (ours.single_observation_space,
                                                                      theirs.observation_space)
    assert ours.single_action_space == theirs.action_space
    assert ours.metadata["render_fps"] == theirs.metadata["render_fps"]
    assert ours.spec.max_episode_steps == theirs.spec.max_episode_steps
    assert ours.spec.reward_threshold == theirs.spec.reward_threshold


class ZeroReset(gymnasium.Wrapper):
    """Gymnasium's CartPole starting every episode (autoresets too) from the zero state, as Apiary's
    does with reset_noise 0: both envs then meet the same states for the same actions."""

    def reset(self, *, seed=None, options=None):
        return self.env.reset(seed=seed, options={"low": 0.0, "high": 0.0})


def cartpole_pair(mode, n, limit=60):
    ours = apiary.make_vec("CartPole-v1", n, seed=0, autoreset_mode=mode,
                           options={"reset_noise": 0.0, "max_episode_steps": limit})
    theirs = SyncVectorEnv([lambda: ZeroReset(gymnasium.make("CartPole-v1", max_episode_steps=limit))
                            for _ in range(n)], autoreset_mode=mode)
    return ours, theirs


def assert_close_step(ours, theirs, what):
    """Observations to float32 rounding (Gymnasium's CartPole computes in float64), the rest exactly,
    and the same dtypes and info keys (Apiary's SAME_STEP info adds final_obs_dense)."""
    for a, b, name in zip(ours[:4], theirs[:4], ("obs", "reward", "terminated", "truncated")):
        assert a.dtype == b.dtype and a.shape == b.shape, (what, name, a.dtype, b.dtype)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=0, atol=2e-4, err_msg=what)
    for i, name in ((1, "reward"), (2, "terminated"), (3, "truncated")):
        np.testing.assert_array_equal(ours[i], theirs[i], err_msg=f"{what}: {name}")
    assert set(ours[4]) - {"final_obs_dense"} == set(theirs[4]), (what, ours[4].keys(), theirs[4].keys())


@pytest.mark.parametrize("mode", [NEXT, SAME, DISABLED])
def test_each_autoreset_mode_steps_as_sync_vector_env(mode):
    """The same actions into Apiary's env and SyncVectorEnv of Gymnasium's CartPole, both starting
    every episode from the zero state: the same observations, rewards (float64; 0 on a reset step),
    flags (false on a reset step), info keys and final observations, episode after episode."""
    n = 6
    ours, theirs = cartpole_pair(mode, n)
    assert ours.metadata["autoreset_mode"] is theirs.metadata["autoreset_mode"] is mode
    obs, info = ours.reset(seed=1)
    their_obs, their_info = theirs.reset(seed=1)
    np.testing.assert_array_equal(obs, their_obs)
    assert info == their_info == {}
    rng = np.random.default_rng(2)
    reset_steps = 0
    previous_ended = np.zeros(n, bool)
    for t in range(400):
        if mode is DISABLED and previous_ended.any():
            a, b = ours.reset(options={"reset_mask": previous_ended}), theirs.reset(
                options={"reset_mask": previous_ended.copy()})
            np.testing.assert_allclose(a[0], b[0], atol=2e-4)
            assert a[1] == b[1] == {}
        # Mostly pushes one way, so that episodes end on different steps in different lanes.
        actions = (rng.random(n) < np.linspace(0.2, 0.8, n)).astype(np.int64)
        result, expected = ours.step(actions), theirs.step(actions)
        assert_close_step(result, expected, f"{mode} step {t}")
        if mode is SAME and "final_obs" in expected[4]:
            for key in ("_final_obs", "_final_info"):
                np.testing.assert_array_equal(result[4][key], expected[4][key])
            assert result[4]["final_info"] == expected[4]["final_info"] == {}
            for lane in range(n):
                if expected[4]["_final_obs"][lane]:
                    np.testing.assert_allclose(result[4]["final_obs"][lane], expected[4]["final_obs"][lane], atol=2e-4)
                else:
                    assert result[4]["final_obs"][lane] is None and expected[4]["final_obs"][lane] is None
        if mode is NEXT:
            reset_steps += int(previous_ended.sum())
            assert not expected[1][previous_ended].any()
        previous_ended = expected[2] | expected[3]
    if mode is NEXT:
        assert reset_steps > 10


@pytest.mark.parametrize("env_id", CLASSIC_IDS)
@pytest.mark.parametrize("mode", [NEXT, SAME, DISABLED])
def test_step_structure_as_sync_vector_env(env_id, mode):
    """Every classic-control env, each mode: the types, dtypes and info keys of reset() and step() are
    SyncVectorEnv's of Gymnasium's env (a short time limit ends episodes on the same steps in both)."""
    n, limit = 3, 7
    ours = apiary.make_vec(env_id, n, seed=0, autoreset_mode=mode, options={"max_episode_steps": limit})
    theirs = SyncVectorEnv([lambda: gymnasium.make(env_id, max_episode_steps=limit) for _ in range(n)],
                           autoreset_mode=mode)
    a, b = ours.reset(seed=3), theirs.reset(seed=3)
    assert a[0].dtype == b[0].dtype and a[0].shape == b[0].shape and a[1] == b[1] == {}
    ours.action_space.seed(0)
    previous = np.zeros(n, bool)
    for t in range(20):
        if mode is DISABLED and previous.any():
            a, b = ours.reset(options={"reset_mask": previous}), theirs.reset(options={"reset_mask": previous.copy()})
            assert a[0].dtype == b[0].dtype and a[1] == b[1] == {}
        actions = ours.action_space.sample()
        result, expected = ours.step(actions), theirs.step(actions)
        for x, y in zip(result[:4], expected[:4]):
            assert type(x) is type(y) and x.dtype == y.dtype and x.shape == y.shape, (t, x, y)
        if not env_id.startswith(("CartPole", "Acrobot", "MountainCar")):  # these may terminate any time
            np.testing.assert_array_equal(result[3], expected[3])
            assert set(result[4]) - {"final_obs_dense"} == set(expected[4])
        previous = expected[2] | expected[3]


def test_gymnasiums_record_episode_statistics_agrees():
    """RecordEpisodeStatistics wraps the default env (no info["episode"] of its own) and records the
    episodes Apiary's own statistics (episode_stats=True) record, in every mode."""
    for mode in (NEXT, SAME):
        ours = apiary.make_vec("CartPole-v1", 6, seed=5, episode_stats=True, autoreset_mode=mode)
        wrapped = vector_wrappers.RecordEpisodeStatistics(
            apiary.make_vec("CartPole-v1", 6, seed=5, autoreset_mode=mode))
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
        doubled = vector_wrappers.RecordEpisodeStatistics(apiary.make_vec("CartPole-v1", 2, seed=0, episode_stats=True))
        doubled.reset()
        for _ in range(100):
            doubled.step(np.ones(2, np.int64))


@pytest.mark.parametrize("name, env_id, make", [
    ("NormalizeObservation", "CartPole-v1", lambda e: vector_wrappers.NormalizeObservation(e)),
    ("TransformObservation", "CartPole-v1", lambda e: vector_wrappers.TransformObservation(e, lambda o: o * 0.5)),
    ("DtypeObservation", "CartPole-v1", lambda e: vector_wrappers.DtypeObservation(e, np.float64)),
    ("FlattenObservation", "MinAtar/Breakout-v1", lambda e: vector_wrappers.FlattenObservation(e)),
    ("RescaleObservation", "MountainCar-v0", lambda e: vector_wrappers.RescaleObservation(e, -1.0, 1.0)),
    ("RecordEpisodeStatistics", "CartPole-v1", lambda e: vector_wrappers.RecordEpisodeStatistics(e)),
])
def test_gymnasiums_vector_wrappers_run_on_the_default_env(name, env_id, make):
    """Each of Gymnasium's observation wrappers (they refuse SAME_STEP envs) on make_vec's defaults."""
    env = make(apiary.make_vec(env_id, 4, seed=0))
    obs, _ = env.reset(seed=0)
    assert obs in env.observation_space
    env.action_space.seed(0)
    for _ in range(100):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert obs in env.observation_space, name
    if name == "FlattenObservation":
        assert obs.shape == (4, 400)
    if name == "DtypeObservation":
        assert obs.dtype == np.float64
    env.close()


def test_observation_wrappers_refuse_same_step_as_gymnasium_says():
    with pytest.raises(ValueError, match="Expected autoreset_mode to be NEXT_STEP or DISABLED"):
        vector_wrappers.TransformObservation(apiary.make_vec("CartPole-v1", 2, autoreset_mode=SAME), lambda o: o)


def test_registration_and_make():
    registered = [k for k in gymnasium.registry if k.startswith("apiary/")]
    assert set(registered) == {apiary.gymnasium_id(i) for i in apiary.envs()}  # plugins' too, once loaded
    assert apiary.gymnasium_id("MinAtar/Breakout-v1") == "apiary/MinAtar-Breakout-v1"
    spec = gymnasium.spec("apiary/CartPole-v1")
    assert spec.max_episode_steps == 500 and spec.reward_threshold == 475 and spec.namespace == "apiary"
    single = gymnasium.make("apiary/CartPole-v1")
    assert isinstance(single, gymnasium.Env) and isinstance(single.unwrapped, apiary.SingleEnv)
    assert single.spec.id == "apiary/CartPole-v1" and single.metadata["render_fps"] == 50
    obs, info = single.reset(seed=0)
    assert obs in single.observation_space and info == {}
    # gymnasium.make's TimeLimit ends the episodes, as for Gymnasium's own envs.
    short = gymnasium.make("apiary/Pendulum-v1", max_episode_steps=3)
    short.reset(seed=0)
    assert [short.step(np.zeros(1, np.float32))[3] for _ in range(3)] == [False, False, True]
    endless = gymnasium.make("apiary/Pendulum-v1", max_episode_steps=-1)
    endless.reset(seed=0)
    assert not any(endless.step(np.zeros(1, np.float32))[3] for _ in range(300))
    assert gymnasium.make("apiary/MinAtar-Breakout-v1").reset(seed=0)[0].shape == (10, 10, 4)


def test_make_vec_through_gymnasium():
    env = gymnasium.make_vec("apiary/CartPole-v1", 8)
    assert isinstance(env, apiary.VectorEnv) and env.num_envs == 8
    assert env.spec.id == "apiary/CartPole-v1" and env.metadata["autoreset_mode"] is NEXT
    assert env.max_episode_steps == 500
    env.reset(seed=0)
    env.step(env.action_space.sample())
    lunar = gymnasium.make_vec("apiary/LunarLander-v3", 2, gravity=-5.0, autoreset_mode="SameStep", seed=3)
    assert lunar.get_attr("gravity") == (-5.0, -5.0) and lunar.autoreset_mode is SAME
    again = gymnasium.make_vec(lunar.spec)  # the spec remakes the env
    assert again.get_attr("gravity") == (-5.0, -5.0) and again.num_envs == 2 and again.autoreset_mode is SAME
    sync = gymnasium.make_vec("apiary/Acrobot-v1", 3, vectorization_mode="sync")
    assert isinstance(sync, SyncVectorEnv)
    sync.reset(seed=0)
    sync.step(sync.action_space.sample())


def check_env_warnings(env, skip_render_check=False):
    """check_env(env), which raises for an error; the warnings it gave, each message's first line."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env, skip_render_check=skip_render_check)
    return {str(w.message).splitlines()[0] for w in caught}


def make_quietly(env_id):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # "apiary/MinAtar-Breakout-v0 is out of date"
        return gymnasium.make(env_id)


def test_check_env_passes():
    ours = check_env_warnings(gymnasium.make("apiary/CartPole-v1"))
    theirs = check_env_warnings(gymnasium.make("CartPole-v1"), skip_render_check=True)  # needs pygame
    # The same warnings as Gymnasium's own CartPole: it is wrapped, its velocities are unbounded.
    assert {w.split("(")[0] for w in ours} == {w.split("(")[0] for w in theirs}, (ours, theirs)


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_check_env_passes_for_every_env(env_id):
    """check_env on every registered env, unwrapped: no warning beyond those Gymnasium's own env of
    the id gets (CartPole's unbounded velocities, Pendulum's torque range of +-2); none for the others."""
    ours = check_env_warnings(make_quietly(apiary.gymnasium_id(env_id)).unwrapped)
    theirs = (check_env_warnings(gymnasium.make(env_id).unwrapped, skip_render_check=True) if env_id in CLASSIC_IDS
              else set())
    assert ours <= theirs, (ours, theirs)


def test_cleanrl_dqn_pattern_with_gymnasiums_statistics():
    """CleanRL's dqn.py loop on the default env wrapped in RecordEpisodeStatistics: the replay buffer
    gets distinct obs and next_obs on every step, and the episodes' returns arrive."""
    envs = vector_wrappers.RecordEpisodeStatistics(apiary.make_vec("CartPole-v1", 4, seed=1))
    obs, _ = envs.reset(seed=1)
    buffer, returns = [], []
    for _ in range(200):
        actions = envs.action_space.sample()
        next_obs, rewards, terminations, truncations, infos = envs.step(actions)
        if "episode" in infos:
            returns.extend(infos["episode"]["r"][infos["_episode"]].tolist())
        buffer.append((obs, next_obs, actions, rewards, terminations))
        obs = next_obs
    assert sum(not np.array_equal(o, n) for o, n, *_ in buffer) == 200
    assert returns
