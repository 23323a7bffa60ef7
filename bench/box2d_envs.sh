#!/usr/bin/env bash
# Box2D env throughput for bench/RESULTS.md: each Box2D env at 1, 64 and 512 lanes with 1 and 2
# threads (median of 5 timed repeats of 1 s each), and a bare one-lander loop as the peer in the same run.
# Usage: bash bench/box2d_envs.sh [BUILD_DIR]    (default: build)
set -euo pipefail
build=${1:-build}
apiary="$build/apiary"
echo "| env | num_envs | threads 1 | threads 2 |"
echo "|---|---|---|---|"
for env in LunarLander-v3 LunarLanderContinuous-v3 BipedalWalker-v3 BipedalWalkerHardcore-v3; do
  for n in 1 64 512; do
    row="| $env | $n |"
    for t in 1 2; do
      sps=$("$apiary" bench envs --env "$env" --num-envs "$n" --threads "$t" --seconds 1 --repeats 5 |
            tail -n 1 | sed 's/.*steps_per_second: //')
      row="$row $sps |"
    done
    echo "$row"
  done
done
echo
"$build/bench_direct_lunar_lander" 1 5 | tail -n 1
