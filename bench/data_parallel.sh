#!/usr/bin/env bash
# Data-parallel PPO on LunarLander-v3 (issue 12): env steps per second, time to solve (an evaluation
# of 100 episodes reaching 200) and the share of wall time in communication, for each world size.
# The global batch is kept: each of W ranks steps 16/W lanes (configs/lunarlander_ppo.yaml has 16), so
# every world size learns from the same samples per update; W=1 is the one-process baseline.
# Usage: bash bench/data_parallel.sh [BUILD_DIR] [WORLD_SIZES] [SESSION_STEPS] [TIMEOUT_SECONDS]
#   SESSION_STEPS (0: the config's whole budget) ends each run early with --session-steps, which keeps
#   the config's total_steps and so its learning-rate schedule (a shorter total_steps would change it).
#   2-core machine:       bash bench/data_parallel.sh build "1 2"
#   16-core GPU machine:  bash bench/data_parallel.sh build "1 2 4 8" 300000 70   (under 5 minutes)
set -euo pipefail
build=${1:-build}
worlds=${2:-"1 2"}
session_steps=${3:-0}
limit=${4:-900}
out=$(mktemp -d)
echo "| world size | lanes per rank | solved after | solved at step | env steps/s | best eval | communication share |"
echo "|---|---|---|---|---|---|---|"
for w in $worlds; do
  lanes=$((16 / w)); [ "$lanes" -ge 1 ] || lanes=1
  log="$out/w$w.txt"
  timeout "$limit" "$build/apiary" train configs/lunarlander_ppo.yaml --quiet --set out_dir="$out" --set name="w$w" \
    --set learner.world_size="$w" --set env.num_envs="$lanes" --set checkpoint_interval_steps=0 \
    --session-steps "$session_steps" > "$log" 2>&1 || true
  line=$(grep 'run_dir:' "$log" | tail -n 1 || true)
  if [ -z "$line" ]; then echo "| $w | $lanes | (no summary: timed out or failed, see $log) | | | | |"; continue; fi
  get() { sed "s/.*$1: \([^ ]*\).*/\1/" <<<"$line"; }
  share=$(grep -o '[0-9.]* % of the wall time' "$log" | cut -d' ' -f1 || true)
  echo "| $w | $lanes | $(get solved_wall_seconds) s | $(get solved_steps) | $(get steps_per_second) | $(get best_eval_mean_return) | ${share:-0} % |"
done
rm -rf "$out"
