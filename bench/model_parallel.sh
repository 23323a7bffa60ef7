#!/usr/bin/env bash
# Model parallelism wired into PPO training (issue 12): time to solve CartPole-v1 (an evaluation
# reaching 475, the config's stop) and env steps per second for the unsplit learner, data parallelism,
# a 2-stage pipeline over 2 ranks, the 2 stages on devices of one rank (both the CPU here), and 2
# replicas x 2 stages (4 ranks); median of the seeds. Runs with replicas step env.num_envs / replicas
# lanes each, so that every configuration learns from the same samples per update.
# Usage: bash bench/model_parallel.sh [BUILD_DIR] [SEEDS] [TIMEOUT_SECONDS]
#   2-core machine: bash bench/model_parallel.sh build "1 2 3"
#   GPU machine:    add a row with stage_devices [cuda:0, cuda:1] where two GPUs exist (below).
set -euo pipefail
build=${1:-build}
seeds=${2:-"1 2 3"}
limit=${3:-300}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
config=configs/cartpole_ppo.yaml
lanes=$(sed -n 's/^ *num_envs: *\([0-9]*\).*/\1/p' "$config" | head -n 1)
half=$((lanes / 2))
declare -a names=(
  "unsplit (1 rank)"
  "data parallel, 2 ranks"
  "pipeline, 2 stages on 2 ranks, 4 micro-batches"
  "pipeline, 2 stages on devices [cpu, cpu] of 1 rank, 4 micro-batches"
  "2 replicas x 2 stages (4 ranks), 4 micro-batches"
)
declare -a sets=(
  ""
  "--set learner.world_size=2 --set env.num_envs=$half"
  "--set learner.world_size=2 --set learner.pipeline_stages=2 --set learner.micro_batches=4"
  "--set learner.pipeline_stages=2 --set learner.stage_devices=[cpu,cpu] --set learner.micro_batches=4"
  "--set learner.world_size=4 --set learner.pipeline_stages=2 --set learner.micro_batches=4 --set env.num_envs=$half"
)
if [ "${GPUS:-0}" -ge 2 ]; then
  names+=("pipeline, 2 stages on devices [cuda:0, cuda:1] of 1 rank, 4 micro-batches")
  sets+=("--set learner.pipeline_stages=2 --set learner.stage_devices=[cuda:0,cuda:1] --set learner.micro_batches=4")
fi
median() { sort -g | awk '{v[NR]=$1} END {if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
echo "| configuration | solved (median s) | per seed (s) | env steps/s (median) | communication share (median) |"
echo "|---|---|---|---|---|"
for i in "${!names[@]}"; do
  solved=(); sps=(); share=()
  for seed in $seeds; do
    log="$out/run_${i}_$seed.txt"
    # shellcheck disable=SC2086
    timeout "$limit" "$build/apiary" train "$config" --quiet --set out_dir="$out/$i" --set name="s$seed" \
      --set seed="$seed" --set checkpoint_interval_steps=0 ${sets[$i]} > "$log" 2>&1 || true
    line=$(grep 'run_dir:' "$log" | tail -n 1 || true)
    if [ -z "$line" ]; then solved+=("fail"); continue; fi
    get() { sed -n "s/.* $1: \([^ ]*\).*/\1/p" <<<"$line"; }
    s=$(get solved_wall_seconds); solved+=("${s:-unsolved}")
    sps+=("$(get steps_per_second)")
    share+=("$(grep -o '[0-9.]* % of the wall time' "$log" | cut -d' ' -f1 || echo 0)")
  done
  med=$(printf '%s\n' "${solved[@]}" | grep -E '^[0-9.]+$' | median)
  echo "| ${names[$i]} | $med | ${solved[*]} | $(printf '%s\n' "${sps[@]}" | median) | $(printf '%s\n' "${share[@]}" | grep -E '^[0-9.]+$' | median) % |"
done
