#!/usr/bin/env bash
# Environment throughput for bench/RESULTS.md: every classic env at 1, 64 and 4096 lanes with 1 and 2
# threads (median of 5 timed repeats of 1 s each), and the scalar C++ CartPole peer in the same run.
# Usage: bash bench/envs.sh [BUILD_DIR]    (default: build)
set -euo pipefail
build=${1:-build}
apiary="$build/apiary"
echo "| env | num_envs | threads 1 | threads 2 |"
echo "|---|---|---|---|"
for env in CartPole-v1 Acrobot-v1 MountainCar-v0 MountainCarContinuous-v0 Pendulum-v1; do
  for n in 1 64 4096; do
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
"$build/bench_scalar_cartpole" 4096 1 5 | tail -n 1
