#!/usr/bin/env python3
"""Env throughput through Python (issue 13, bench/RESULTS.md).

Steps per second of `apiary.make_vec` driven from Python with uniform random actions (8 batches
prepared in advance and cycled, int64 as `action_space.sample()` gives them), at 1, 64 and 4096 lanes
for CartPole-v1 and LunarLander-v3; the same env stepped by C++ alone in the same process (no Python
in the loop, same-step autoreset), whose difference per step() is the overhead of Python and of the
autoreset mode; and, in the same run, Gymnasium's own numpy vector env for CartPole
(gymnasium.envs.classic_control.cartpole.CartPoleVectorEnv) fed the same actions. Each cell is the
median of --repeats timed runs of --seconds each, after a warm-up. The env is make_vec's defaults
(copy=True, next-step autoreset, as Gymnasium's) unless --copy 0 / --autoreset-mode say otherwise.

    python3 bench/python_envs.py --build build --gymnasium /path/to/Gymnasium

--gymnasium is a checkout of https://github.com/Farama-Foundation/Gymnasium (the folder holding
`gymnasium/`); only numpy is needed. If importing the package fails (a dependency missing), its
cartpole.py alone is loaded with small stand-ins for what it imports (--peer-loader file forces that).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import statistics
import sys
import time
import types

import numpy as np


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default="build", help="Apiary build folder (its python/ holds the package)")
    p.add_argument("--gymnasium", help="Gymnasium checkout for the peer (omit: no peer)")
    p.add_argument("--peer-loader", choices=("package", "file"), default="package",
                   help="import Gymnasium's package, or load cartpole.py alone with stand-ins")
    p.add_argument("--envs", default="CartPole-v1,LunarLander-v3")
    p.add_argument("--lanes", default="1,64,4096")
    p.add_argument("--threads", default="1,2", help="Apiary thread counts to measure")
    p.add_argument("--seconds", type=float, default=1.0, help="length of one timed run")
    p.add_argument("--repeats", type=int, default=5, help="timed runs per cell (the median is reported)")
    p.add_argument("--copy", type=int, choices=(0, 1), default=1, help="make_vec's copy (1: the default)")
    p.add_argument("--autoreset-mode", default="NextStep", choices=("NextStep", "SameStep", "Disabled"),
                   help="make_vec's autoreset_mode (NextStep: the default; Disabled resets ended lanes with "
                        "reset(options={'reset_mask': ...}) after each step)")
    return p.parse_args()


def timed_steps(step, batches, seconds):
    """Steps through `step` with the batches cycled for about `seconds`; returns (wall, cpu) seconds
    per step, cpu being the process's CPU time (time.process_time), which other processes on a
    shared machine do not inflate."""
    for b in batches:  # warm-up
        step(b)
    count, start, cpu_start = 0, time.perf_counter(), time.process_time()
    while True:
        for b in batches:
            step(b)
        count += len(batches)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return elapsed / count, (time.process_time() - cpu_start) / count


def medians(runs):
    """Median wall and median cpu of [(wall, cpu), ...]."""
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def apiary_stepper(env):
    """env.step, or for a DISABLED env a step followed by the reset of the lanes that ended."""
    if env.autoreset_mode.value != "Disabled":
        return env.step

    def step(actions):
        result = env.step(actions)
        ended = result[2] | result[3]
        if ended.any():
            env.reset(options={"reset_mask": ended})
        return result
    return step


def random_batches(action_space_n, lanes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, action_space_n, size=lanes) for _ in range(8)]


# ---- the peer ----------------------------------------------------------------------------------

def load_gymnasium_cartpole(checkout, loader):
    """Gymnasium's CartPoleVectorEnv class and a description of where it came from."""
    checkout = os.path.abspath(checkout)
    if loader == "package":
        sys.path.insert(0, checkout)
        try:
            import gymnasium  # noqa: PLC0415
            from gymnasium.envs.classic_control.cartpole import CartPoleVectorEnv  # noqa: PLC0415
            return CartPoleVectorEnv, f"gymnasium {gymnasium.__version__} (package import)"
        except ImportError as e:
            print(f"importing the gymnasium package failed ({e}); loading cartpole.py alone", file=sys.stderr)
            sys.path.remove(checkout)
            for name in [m for m in sys.modules if m == "gymnasium" or m.startswith("gymnasium.")]:
                del sys.modules[name]
    return load_cartpole_file(checkout)


def load_cartpole_file(checkout):
    """cartpole.py by path, with stand-ins for the gymnasium modules it imports: spaces (Apiary's own
    Box and Discrete, which have what CartPole uses), the vector base class, batch_space, a logger."""
    import enum  # noqa: PLC0415

    from apiary import spaces as apiary_spaces  # noqa: PLC0415

    def module(name, **attrs):
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        sys.modules[name] = m
        return m

    class AutoresetMode(enum.Enum):
        NEXT_STEP = "NextStep"
        SAME_STEP = "SameStep"
        DISABLED = "Disabled"

    class VectorEnv:
        metadata: dict = {}
        closed = False
        _np_random = None

        def reset(self, *, seed=None, options=None):
            if seed is not None:
                self._np_random = np.random.default_rng(seed)

        @property
        def np_random(self):
            if self._np_random is None:
                self._np_random = np.random.default_rng()
            return self._np_random

        def close(self, **kwargs):
            self.closed = True

    def batch_space(space, n=1):
        if isinstance(space, apiary_spaces.Discrete):
            return apiary_spaces.MultiDiscrete(np.full((n,), space.n), start=np.full((n,), space.start))
        return apiary_spaces.Box(np.broadcast_to(space.low, (n,) + space.shape),
                                 np.broadcast_to(space.high, (n,) + space.shape), dtype=space.dtype)

    class Env:
        metadata: dict = {}

        def __class_getitem__(cls, item):  # gym.Env[ObsType, ActType]
            return cls

    class DependencyNotInstalled(ImportError):
        pass

    def warn(*args, **kwargs):
        pass

    spaces = module("gymnasium.spaces", Box=apiary_spaces.Box, Discrete=apiary_spaces.Discrete)
    logger = module("gymnasium.logger", warn=warn)
    error = module("gymnasium.error", DependencyNotInstalled=DependencyNotInstalled)
    vector_utils = module("gymnasium.vector.utils", batch_space=batch_space)
    vector = module("gymnasium.vector", AutoresetMode=AutoresetMode, VectorEnv=VectorEnv, utils=vector_utils)
    utils_path = os.path.join(checkout, "gymnasium", "envs", "classic_control", "utils.py")
    utils_spec = importlib.util.spec_from_file_location("gymnasium.envs.classic_control.utils", utils_path)
    utils = importlib.util.module_from_spec(utils_spec)
    sys.modules[utils_spec.name] = utils
    utils_spec.loader.exec_module(utils)
    module("gymnasium.envs")
    module("gymnasium.envs.classic_control", utils=utils)
    module("gymnasium", Env=Env, spaces=spaces, logger=logger, error=error, vector=vector)
    path = os.path.join(checkout, "gymnasium", "envs", "classic_control", "cartpole.py")
    spec = importlib.util.spec_from_file_location("gymnasium.envs.classic_control.cartpole", path)
    cartpole = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cartpole)
    return cartpole.CartPoleVectorEnv, "gymnasium cartpole.py loaded alone (stand-ins for its imports)"


# ---- main --------------------------------------------------------------------------------------

def main():
    args = parse_args()
    sys.path.insert(0, os.path.join(args.build, "python"))
    import apiary  # noqa: PLC0415
    from apiary import _apiary  # noqa: PLC0415

    env_ids = args.envs.split(",")
    lanes = [int(n) for n in args.lanes.split(",")]
    thread_counts = [int(t) for t in args.threads.split(",")]
    peer, peer_name = (load_gymnasium_cartpole(args.gymnasium, args.peer_loader) if args.gymnasium else (None, None))

    print(f"# {os.cpu_count()} CPUs, Python {platform.python_version()}, numpy {np.__version__}, "
          f"{time.strftime('%Y-%m-%d %H:%M')}, load average {os.getloadavg()[0]:.1f}; "
          f"{args.repeats} runs of {args.seconds} s per cell, medians; make_vec(copy={bool(args.copy)}, "
          f"autoreset_mode={args.autoreset_mode})")
    print("\n| env | lanes | threads | Python steps/s | C++ steps/s | overhead per step(), wall | overhead, CPU time |")
    print("|---|---|---|---|---|---|---|")
    figures = {}
    for env_id in env_ids:
        for n in lanes:
            for threads in thread_counts:
                if threads > 1 and n == 1:
                    continue
                env = apiary.make_vec(env_id, n, seed=0, threads=threads, copy=bool(args.copy),
                                      autoreset_mode=args.autoreset_mode)
                env.reset()
                batches = random_batches(int(env.single_action_space.n), n)
                py_runs, cpp_runs = [], []
                for _ in range(args.repeats):  # interleaved, so that both see the same machine
                    py_runs.append(timed_steps(apiary_stepper(env), batches, args.seconds))
                    c = _apiary.cpp_step_seconds(env_id, n, threads, args.seconds, 0)
                    cpp_runs.append((c["wall"], c["cpu"]))
                env.close()
                py, cpp = medians(py_runs), medians(cpp_runs)
                figures[(env_id, n, threads)] = py
                # CPU time per step counts every thread, so the CPU-time overhead is for 1 thread only.
                cpu_overhead = f"{(py[1] - cpp[1]) * 1e6:.2f} us" if threads == 1 else "-"
                print(f"| {env_id} | {n} | {threads} | {n / py[0]:.3g} | {n / cpp[0]:.3g} | "
                      f"{(py[0] - cpp[0]) * 1e6:.2f} us | {cpu_overhead} |", flush=True)
                if (env_id, n, threads) == ("CartPole-v1", 1, 1):
                    figures["overhead"] = (py[0] - cpp[0], py[1] - cpp[1])

    ratio_4096 = None
    if peer is not None:
        print(f"\nPeer: {peer_name}, CartPoleVectorEnv (numpy), the same actions, runs interleaved with "
              "Apiary's (1 thread)\n")
        print("| lanes | Gymnasium steps/s | Apiary steps/s | ratio (wall) | ratio (CPU time) |")
        print("|---|---|---|---|---|")
        for n in lanes:
            gym_env = peer(num_envs=n)
            gym_env.reset(seed=0)
            ours = apiary.make_vec("CartPole-v1", n, seed=0, threads=1, copy=bool(args.copy),
                                   autoreset_mode=args.autoreset_mode)
            ours.reset()
            batches = random_batches(2, n)
            gym_runs, our_runs = [], []
            for _ in range(args.repeats):
                gym_runs.append(timed_steps(gym_env.step, batches, args.seconds))
                our_runs.append(timed_steps(apiary_stepper(ours), batches, args.seconds))
            gym_env.close()
            ours.close()
            gym, our = medians(gym_runs), medians(our_runs)
            print(f"| {n} | {n / gym[0]:.3g} | {n / our[0]:.3g} | {gym[0] / our[0]:.1f}x | {gym[1] / our[1]:.1f}x |",
                  flush=True)
            if n == 4096:
                ratio_4096 = gym[0] / our[0]

    summary = []
    if "overhead" in figures:
        wall, cpu = figures["overhead"]
        summary.append(f"cartpole_1_lane_overhead_us_wall: {wall * 1e6:.2f} cartpole_1_lane_overhead_us_cpu: {cpu * 1e6:.2f}")
    if ratio_4096 is not None:
        summary.append(f"cartpole_4096_lanes_ratio_to_gymnasium: {ratio_4096:.2f}")
    print("\n" + " ".join(summary))


if __name__ == "__main__":
    main()
