"""apiary.train and apiary.Policy: a CartPole PPO run from Python reaches its threshold; the policy
loaded from its checkpoint acts as `apiary eval` does (the same episodes, to the printed digit);
configuration errors, refusals, sampling, Ctrl-C and the GIL."""

import copy
import os
import pickle
import re
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import apiary

SOURCE = os.environ.get("APIARY_SOURCE_DIR", "")
BUILD = os.environ.get("APIARY_BINARY_DIR", "")
GRIDWORLD = os.environ.get("APIARY_TEST_PLUGIN_GRIDWORLD", "")
pytestmark = pytest.mark.skipif(not (SOURCE and BUILD), reason="run by ctest, which names the trees")
CARTPOLE = os.path.join(SOURCE, "configs", "cartpole_ppo.yaml")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return tmp_path_factory.mktemp("runs")


def test_train_with_a_plugin_shares_the_env_registry(runs):
    """A plugin loaded by train() is registered where make_vec looks: one registry in the process."""
    if not GRIDWORLD:
        pytest.skip("run by ctest, which names the plugin")
    assert "GridWorld-v0" not in apiary.envs()
    summary = apiary.train(os.path.join(SOURCE, "configs", "examples", "gridworld_ppo.yaml"), plugins=[GRIDWORLD],
                           out_dir=str(runs), quiet=True, progress=False)
    assert summary["eval_mean_return"] >= 0.85 and summary["stopped_early"]
    assert "GridWorld-v0" in apiary.envs()
    env = apiary.make_vec("GridWorld-v0", 2, seed=0)
    env.reset()


@pytest.fixture(scope="module")
def cartpole_run(runs):
    summary = apiary.train(CARTPOLE, out_dir=str(runs), quiet=True, progress=False)
    return summary


def test_train_cartpole_ppo_reaches_475(cartpole_run):
    s = cartpole_run
    assert s["eval_mean_return"] >= 475, s
    assert s["stopped_early"] and not s["interrupted"]
    for key in ("eval_std_return", "best_eval_mean_return", "steps", "wall_seconds", "steps_per_second",
                "solved_wall_seconds", "solved_steps", "run_dir", "updates", "env_seconds", "learning_seconds"):
        assert key in s
    assert s["steps"] > 0 and s["solved_steps"] == s["steps"] and s["best_eval_mean_return"] >= 475
    assert os.path.isfile(os.path.join(s["run_dir"], "checkpoints", "best.pt"))
    assert os.path.isfile(os.path.join(s["run_dir"], "config.yaml"))


def eval_like_the_cli(policy, episodes, seed):
    """actors::evaluate's protocol from Python: min(episodes, 64) lanes reset with `seed`, lane i owes
    (episodes + i) // n episodes, deterministic actions, returns in the order episodes finish; the
    evaluator resets a finished lane in the same step and counts its returns itself."""
    n = min(episodes, 64)
    env = policy.make_vec(n, seed=seed, autoreset_mode=apiary.AutoresetMode.SAME_STEP, episode_stats=True)
    owed = np.array([(episodes + i) // n for i in range(n)])
    obs, _ = env.reset()
    returns, lengths = [], []
    while len(returns) < episodes:
        obs, _, terminated, truncated, info = env.step(policy(obs))
        for lane in np.flatnonzero((terminated | truncated) & (owed > 0)):
            owed[lane] -= 1
            returns.append(info["episode"]["r"][lane])
            lengths.append(info["episode"]["l"][lane])
    return np.mean(returns), np.mean(lengths)


@pytest.fixture(scope="module")
def partly_trained(runs):
    """Checkpoints of short runs, whose episodes still vary in length and return (a solved CartPole
    policy ends every episode at 500, which any policy that balances would match): PPO on CartPole,
    DQN on CartPole (greedy Q-values) and PPO on Pendulum (continuous: the Gaussian mean)."""
    out = {}
    for config, steps in (("cartpole_ppo", 3072), ("cartpole_dqn", 4096), ("pendulum_ppo", 4096)):
        s = apiary.train(os.path.join(SOURCE, "configs", config + ".yaml"), out_dir=str(runs), name="partly_" + config,
                         total_steps=steps, eval__interval_steps=steps, eval__episodes=4, eval__num_envs=4,
                         stop__mean_return=float("inf"), quiet=True, progress=False)
        out[config] = os.path.join(s["run_dir"], "checkpoints", "latest.pt")
    return out


@pytest.mark.parametrize("config", ["cartpole_ppo", "cartpole_dqn", "pendulum_ppo"])
def test_policy_acts_as_apiary_eval(partly_trained, config):
    """`apiary eval CHECKPOINT --episodes E --seed S` and the same protocol driven from Python by
    Policy on make_vec report the same mean return and length, to the digits the command prints: the
    same observations met the same actions, episode after episode."""
    checkpoint = partly_trained[config]
    policy = apiary.Policy.load(checkpoint)
    means = set()
    for seed, episodes in ((7, 20), (123, 70)):
        cli = subprocess.run([os.path.join(BUILD, "apiary"), "eval", checkpoint, "--episodes", str(episodes),
                              "--seed", str(seed)], capture_output=True, text=True, check=True).stdout
        cli_mean = float(re.search(r"mean_return: ([-0-9.]+)", cli).group(1))
        cli_length = float(re.search(r"mean length ([-0-9.]+)", cli).group(1))
        mean, length = eval_like_the_cli(policy, episodes, seed)
        assert f"{mean:.3f}" == f"{cli_mean:.3f}", (config, mean, cli)
        assert f"{length:.1f}" == f"{cli_length:.1f}", (config, length, cli)
        means.add(f"{mean:.3f}")
    assert len(means) == 2  # the two evaluations differ: the returns depend on the episodes


def test_recurrent_policy_carries_its_state_and_acts_as_apiary_eval(runs):
    """A recurrent checkpoint (an LSTM on CartPole without velocities): Policy.act takes and returns
    each lane's state, zeroes it where an episode starts, and driven with same-step autoreset it plays
    the episodes `apiary eval` plays, to the digits the command prints. Without a state it is refused;
    a policy without memory passes a state through."""
    s = apiary.train(os.path.join(SOURCE, "configs", "cartpole_nov_ppo_lstm.yaml"), out_dir=str(runs),
                     name="recurrent", total_steps=4096, eval__interval_steps=4096, eval__episodes=4,
                     eval__num_envs=4, stop__mean_return=float("inf"), quiet=True, progress=False)
    checkpoint = os.path.join(s["run_dir"], "checkpoints", "latest.pt")
    policy = apiary.Policy.load(checkpoint)
    assert policy.recurrent and policy.state_size == 2 * 2 * 64  # LSTM h and c, actor and critic
    assert policy.observation_space.shape == (2,)
    state = policy.initial_state(3)
    assert state.shape == (3, 256) and state.dtype == np.float32 and not state.any()
    obs = np.array([[0.0, 0.05], [0.1, -0.05], [0.0, 0.0]], np.float32)
    actions, after = policy.act(obs, state, np.ones(3, bool))
    assert actions.shape == (3,) and after.shape == (3, 256) and np.abs(after).sum() > 0
    # A lane whose episode starts acts as from a zero state; the others remember.
    again, _ = policy.act(obs, after, np.array([True, False, False]))
    fresh, _ = policy.act(obs, np.zeros_like(after), np.ones(3, bool))
    assert again[0] == fresh[0]
    with pytest.raises(ValueError, match="recurrent"):
        policy.act(obs)
    with pytest.raises(ValueError, match=r"state must be float32 \[3, 256\]"):
        policy.act(obs, np.zeros((3, 5), np.float32))

    seed, episodes = 7, 12
    cli = subprocess.run([os.path.join(BUILD, "apiary"), "eval", checkpoint, "--episodes", str(episodes),
                          "--seed", str(seed)], capture_output=True, text=True, check=True).stdout
    cli_mean = float(re.search(r"mean_return: ([-0-9.]+)", cli).group(1))
    n = min(episodes, 64)
    env = policy.make_vec(n, seed=seed, autoreset_mode=apiary.AutoresetMode.SAME_STEP, episode_stats=True)
    owed = np.array([(episodes + i) // n for i in range(n)])
    obs, _ = env.reset()
    state, starts, returns = policy.initial_state(n), np.ones(n, bool), []
    while len(returns) < episodes:
        actions, state = policy.act(obs, state, starts)
        obs, _, terminated, truncated, info = env.step(actions)
        starts = terminated | truncated
        for lane in np.flatnonzero(starts & (owed > 0)):
            owed[lane] -= 1
            returns.append(info["episode"]["r"][lane])
    assert f"{np.mean(returns):.3f}" == f"{cli_mean:.3f}", (returns, cli)


def test_policy_interface(cartpole_run):
    policy = apiary.Policy.load(os.path.join(cartpole_run["run_dir"], "checkpoints", "best.pt"))
    assert policy.env_id == "CartPole-v1" and policy.algo == "ppo"
    assert policy.action_space.n == 2 and policy.observation_space.shape == (4,)
    assert "cartpole_ppo" in policy.config and "CartPole-v1" in policy.config
    obs = np.random.default_rng(0).uniform(-0.2, 0.2, size=(32, 4)).astype(np.float32)
    actions = policy(obs)
    assert actions.shape == (32,) and actions.dtype == np.int64 and set(actions) <= {0, 1}
    for i in range(0, 32, 7):  # one observation gives one action, the batch's
        assert policy(obs[i]) == actions[i]
    np.testing.assert_array_equal(policy(obs.astype(np.float64)), actions)  # any real dtype
    np.testing.assert_array_equal(policy(obs.tolist()), actions)
    # No memory: a state passes through unchanged, so one loop serves both kinds of policy.
    assert not policy.recurrent and policy.initial_state(32).shape == (32, 0)
    passed, state = policy.act(obs, policy.initial_state(32))
    np.testing.assert_array_equal(passed, actions)
    assert state.shape == (32, 0)
    # A cart drifting right with the pole falling right: push right.
    assert policy(np.array([0.0, 0.0, 0.15, 0.5], np.float32)) == 1
    assert policy(np.array([0.0, 0.0, -0.15, -0.5], np.float32)) == 0
    with pytest.raises(ValueError, match=r"CartPole-v1: observations of shape \(32, 3\), expected \(4,\)"):
        policy(obs[:, :3])
    with pytest.raises(TypeError, match="CartPole-v1: observations must be real numbers"):
        policy(np.array([["a"] * 4]))


def test_policy_pickles_as_its_checkpoint(cartpole_run, tmp_path):
    """pickle and deepcopy give the same network with the same weights (the checkpoint's bytes, read
    when it was loaded), even once the file is gone."""
    source = os.path.join(cartpole_run["run_dir"], "checkpoints", "best.pt")
    moved = tmp_path / "moved.pt"
    with open(source, "rb") as f:
        moved.write_bytes(f.read())
    policy = apiary.Policy.load(moved)
    data = pickle.dumps(policy)
    moved.unlink()
    for clone in (pickle.loads(data), copy.deepcopy(policy)):
        assert clone.env_id == policy.env_id and clone.algo == policy.algo and clone.path == policy.path
        assert clone.config == policy.config and clone.env_options == policy.env_options
        obs = np.random.default_rng(1).uniform(-0.2, 0.2, size=(64, 4)).astype(np.float32)
        np.testing.assert_array_equal(clone(obs), policy(obs))


def test_sampled_actions(runs):
    """An early checkpoint is unsure, so sampled actions vary, reproducibly under Policy.seed; the
    deterministic ones do not vary."""
    s = apiary.train(CARTPOLE, out_dir=str(runs), name="barely_trained", total_steps=256, eval__interval_steps=256,
                     eval__episodes=2, eval__num_envs=2, quiet=True, progress=False)
    policy = apiary.Policy.load(os.path.join(s["run_dir"], "checkpoints", "latest.pt"))
    obs = np.zeros((2000, 4), np.float32)
    greedy = policy(obs)
    assert len(set(greedy)) == 1
    apiary.Policy.seed(5)
    a = policy(obs, deterministic=False)
    apiary.Policy.seed(5)
    b = policy(obs, deterministic=False)
    np.testing.assert_array_equal(a, b)
    assert 100 < a.sum() < 1900  # both actions drawn, neither certain


def test_policy_load_refusals(cartpole_run, tmp_path):
    checkpoint = os.path.join(cartpole_run["run_dir"], "checkpoints", "best.pt")
    with pytest.raises(ValueError, match=r"was trained on CartPole-v1, not Acrobot-v1"):
        apiary.Policy.load(checkpoint, env_id="Acrobot-v1")
    missing = str(tmp_path / "missing.pt")
    with pytest.raises(ValueError, match=re.escape(missing) + " does not exist"):
        apiary.Policy.load(missing)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=re.escape(str(junk)) + " is not a readable LibTorch archive"):
        apiary.Policy.load(junk)
    with pytest.raises(ValueError, match="no zoo entry 'nothing-here'"):
        apiary.Policy.load("zoo:nothing-here")


def test_zoo_ids_resolve_through_apiary_zoo_dir(cartpole_run, tmp_path, monkeypatch):
    zoo = tmp_path / "zoo"
    zoo.mkdir()
    (zoo / "index.tsv").write_text("name\tenv_id\talgo\ncartpole_ppo\tCartPole-v1\tppo\n")
    with open(os.path.join(cartpole_run["run_dir"], "checkpoints", "best.pt"), "rb") as f:
        (zoo / "cartpole_ppo.pt").write_bytes(f.read())
    monkeypatch.setenv("APIARY_ZOO_DIR", str(zoo))
    for name in ("zoo:cartpole_ppo", "zoo:CartPole-v1"):
        policy = apiary.Policy.load(name)
        assert policy.env_id == "CartPole-v1" and policy.path == str(zoo / "cartpole_ppo.pt")


def test_train_configuration_errors(runs, tmp_path):
    with pytest.raises(ValueError, match="learning_rate"):
        apiary.train(CARTPOLE, out_dir=str(runs), ppo__learning_rate=-1.0)
    with pytest.raises(ValueError, match="no_such_key"):
        apiary.train(CARTPOLE, out_dir=str(runs), no_such_key=1)
    with pytest.raises(ValueError, match="no_such_section"):
        apiary.train(CARTPOLE, overrides={"no_such_section.x": 1})
    missing = str(tmp_path / "missing.yaml")
    with pytest.raises(ValueError, match=re.escape(missing)):
        apiary.train(missing)
    with pytest.raises(ValueError, match="resume"):
        apiary.train(CARTPOLE, resume=str(runs))
    with pytest.raises(ValueError, match="give a config file"):
        apiary.train()


CTRL_C = textwrap.dedent("""
    import signal, sys, threading, time
    import apiary
    signal.signal(signal.SIGINT, signal.default_int_handler)
    ticks = [0]
    def ticker():  # runs only while train() has released the GIL
        while True:
            ticks[0] += 1
            time.sleep(0.001)
    threading.Thread(target=ticker, daemon=True).start()
    try:
        apiary.train(sys.argv[1], out_dir=sys.argv[2], name="interrupted", total_steps=50_000_000,
                     stop__mean_return=float("inf"), eval__interval_steps=1_000_000, quiet=True, progress=False)
    except KeyboardInterrupt as e:
        print("interrupted:", e, "ticks:", ticks[0], flush=True)
        sys.exit(0)
    print("finished without an interruption", flush=True)
    sys.exit(1)
""")


def test_ctrl_c_stops_training_cleanly(tmp_path):
    """SIGINT during apiary.train: the run ends through the trainer's stop flag with a checkpoint, then
    KeyboardInterrupt reaches the script; Python threads ran during training (the GIL was free)."""
    proc = subprocess.Popen([sys.executable, "-c", CTRL_C, CARTPOLE, str(tmp_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    run_dir = tmp_path / "interrupted"
    deadline = time.time() + 120
    while not (run_dir / "metrics.csv").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.1)
    assert proc.poll() is None, proc.communicate()
    time.sleep(2.0)
    sent = time.time()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, (out, err)
    assert time.time() - sent < 30
    match = re.search(r"interrupted: training stopped; checkpoint written to (\S+) ticks: (\d+)", out)
    assert match, (out, err)
    assert match.group(1) == str(run_dir / "checkpoints" / "latest.pt")
    assert os.path.isfile(match.group(1))
    assert int(match.group(2)) > 200  # the ticker thread kept running
    # The interrupted run continues from its checkpoint.
    resumed = apiary.train(resume=str(run_dir), session_steps=2048, quiet=True, progress=False)
    assert resumed["run_dir"] == str(run_dir) and resumed["steps"] > 2048


def test_policy_example(cartpole_run):
    checkpoint = os.path.join(cartpole_run["run_dir"], "checkpoints", "best.pt")
    result = subprocess.run([sys.executable, os.path.join(SOURCE, "python", "examples", "policy.py"), checkpoint,
                             "--episodes", "16"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert "env: CartPole-v1 episodes: 16" in summary
    assert float(re.search(r"mean_return: ([-0-9.]+)", summary).group(1)) >= 475


def test_train_with_actor_processes(runs):
    """actors.count > 0 from Python: the actors are the `apiary` program (found next to the package),
    not python3; without it the run is refused before it starts."""
    s = apiary.train(CARTPOLE, out_dir=str(runs), name="with_actors", actors__count=1, total_steps=2048,
                     stop__mean_return=float("inf"), eval__interval_steps=2048, eval__episodes=2, eval__num_envs=2,
                     quiet=True, progress=False)
    assert s["steps"] >= 2048 and s["transport"]["transport_chunks"] > 0
    with pytest.raises(ValueError, match="actors.count > 0 runs actor processes of the `apiary` program"):
        apiary.train(CARTPOLE, out_dir=str(runs), name="no_program", actors__count=1, program="")


def test_a_cnn_policy_on_minatar_acts_on_uint8_images_from_make_vec(runs):
    """A short PPO run with the MinAtar encoder; Policy.load gives a policy that takes make_vec's uint8
    frames (batched or one), agrees with itself batched and one at a time, and refuses float frames."""
    s = apiary.train(os.path.join(SOURCE, "configs", "minatar_breakout_ppo.yaml"), out_dir=str(runs), quiet=True,
                     progress=False, total_steps=4096, env__num_envs=8, ppo__rollout_steps=64,
                     eval__interval_steps=0, eval__episodes=2, eval__num_envs=2, eval__background=False)
    policy = apiary.Policy.load(os.path.join(s["run_dir"], "checkpoints", "latest.pt"))
    env = apiary.make_vec("MinAtar/Breakout-v1", 4, seed=3)
    obs, _ = env.reset(seed=3)
    assert obs.dtype == np.uint8
    for _ in range(20):
        actions = policy.act(obs)
        assert actions.shape == (4,) and set(np.unique(actions)) <= {0, 1, 2}
        assert [int(policy.act(obs[i])) for i in range(4)] == [int(a) for a in actions]
        obs, *_ = env.step(actions)
    with pytest.raises(TypeError, match="uint8"):
        policy.act(obs.astype(np.float32))
    env.close()
