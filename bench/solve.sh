#!/usr/bin/env bash
# Wall-clock and env steps until an evaluation (100 episodes, deterministic policy) first reaches the
# env's threshold, for each config, seeds 1-3; prints one row per config with the median.
# Usage: bash bench/solve.sh [BUILD_DIR] [CONFIG ...]   (default: every configs/*.yaml)
set -euo pipefail
build=${1:-build}
shift || true
configs=("$@")
[ ${#configs[@]} -gt 0 ] || configs=(configs/*.yaml)
out=$(mktemp -d)
echo "| config | seed 1 | seed 2 | seed 3 | median seconds | median steps |"
echo "|---|---|---|---|---|---|"
for cfg in "${configs[@]}"; do
  name=$(basename "$cfg" .yaml)
  secs=(); steps=(); cells=""
  for seed in 1 2 3; do
    line=$("$build/apiary" train "$cfg" --quiet --set seed=$seed --set out_dir="$out" --set name="$name-$seed" \
           --set checkpoint_interval_steps=0 | tail -n 1)
    s=$(sed 's/.*solved_wall_seconds: \([^ ]*\).*/\1/' <<<"$line")
    n=$(sed 's/.*solved_steps: \([^ ]*\).*/\1/' <<<"$line")
    best=$(sed 's/.*best_eval_mean_return: \([^ ]*\).*/\1/' <<<"$line")
    if [ "$n" = "-1" ]; then cells="$cells not solved (best $best) |"; s=inf; else cells="$cells ${s}s, ${n} steps |"; fi
    secs+=("$s"); steps+=("$n")
  done
  med_s=$(printf '%s\n' "${secs[@]}" | sort -g | sed -n 2p)
  med_n=$(printf '%s\n' "${steps[@]}" | sed 's/^-1$/inf/' | sort -g | sed -n 2p)
  echo "| $name |$cells $med_s | $med_n |"
done
rm -rf "$out"
