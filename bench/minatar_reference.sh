#!/usr/bin/env bash
# The peer of `bash bench/envs.sh build minatar`: the reference MinAtar (kenjyoung/MinAtar, numpy, one
# game per Environment, stepped one at a time as its examples do) with random actions, sticky actions
# and ramping on, for each game: steps per second over 20000 steps. MinAtar is not part of Apiary: give
# its checkout (a folder holding minatar/).
# Usage: [PYTHON=/usr/bin/python3] bash bench/minatar_reference.sh PATH_TO_MINATAR (a Python with numpy)
set -euo pipefail
ref=${1:?usage: bash bench/minatar_reference.sh PATH_TO_MINATAR}
PYTHONPATH="$ref" "${PYTHON:-python3}" - <<'PY'
import time
import numpy as np
from minatar import Environment

for game in ["breakout", "asterix", "freeway", "seaquest", "space_invaders"]:
    env = Environment(game)
    env.seed(0)
    rng = np.random.default_rng(0)
    actions = rng.integers(0, env.num_actions(), size=20000)
    env.reset()
    start = time.perf_counter()
    for a in actions:
        _, done = env.act(int(a))
        if done:
            env.reset()
        env.state()  # the observation an agent reads every step
    elapsed = time.perf_counter() - start
    print(f"| reference MinAtar/{game} | {len(actions) / elapsed:.4g} steps/s |")
PY
