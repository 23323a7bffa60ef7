#!/usr/bin/env bash
# Environment throughput for bench/RESULTS.md: each env at each lane count with 1 and 2 threads (median
# of 5 timed repeats of 1 s each), then the peer program in the same run.
# Usage: bash bench/envs.sh [BUILD_DIR] [classic|box2d]    (defaults: build, classic)
#   classic: the classic suite at 1, 64 and 4096 lanes; peer: the scalar C++ CartPole loop.
#   box2d:   the Box2D suite at 1, 64 and 512 lanes; peer: a bare one-lander LunarLander loop.
#   minatar: the five MinAtar games (uint8 images) at 1, 64 and 4096 lanes; peer: none here (the
#            reference is numpy, one env at a time: bench/minatar_reference.sh times it).
set -euo pipefail
build=${1:-build}
suite=${2:-classic}
apiary="$build/apiary"
case "$suite" in
  classic) envs="CartPole-v1 Acrobot-v1 MountainCar-v0 MountainCarContinuous-v0 Pendulum-v1"; lanes="1 64 4096"
           peer=("$build/bench_scalar_cartpole" 4096 1 5) ;;
  box2d)   envs="LunarLander-v3 LunarLanderContinuous-v3 BipedalWalker-v3 BipedalWalkerHardcore-v3"; lanes="1 64 512"
           peer=("$build/bench_direct_lunar_lander" 1 5) ;;
  minatar) envs="MinAtar/Breakout-v1 MinAtar/Asterix-v1 MinAtar/Freeway-v1 MinAtar/Seaquest-v1 MinAtar/SpaceInvaders-v1"
           lanes="1 64 4096"; peer=(true) ;;
  *) echo "unknown suite '$suite' (classic, box2d or minatar)" >&2; exit 2 ;;
esac
echo "| env | num_envs | threads 1 | threads 2 |"
echo "|---|---|---|---|"
for env in $envs; do
  for n in $lanes; do
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
"${peer[@]}" | tail -n 1
