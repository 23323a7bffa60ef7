#!/usr/bin/env bash
# Transfer against scratch (issue 11): env steps and wall-clock until an evaluation (100 episodes,
# deterministic policy) first reaches the target env's threshold, seeds 1-3, for each pair: the target
# config trained from random weights, then the same config and overrides started from a zoo entry
# (init.checkpoint). Prints one markdown row per pair with the medians and the ratio of median steps.
# A run that does not solve within the config's budget counts as inf (its best evaluation is shown).
# Pairs with a budget (BipedalWalker to its Hardcore variant) are trained for that many env steps
# instead, and report the best evaluation each run reached (both sides get the same budget).
# Usage: bash bench/transfer.sh [BUILD_DIR] [PAIR ...]   (default: every pair below)
#   The zoo is the repository's zoo/ (APIARY_ZOO_DIR), so BUILD_DIR may hold a copy of the program.
#   BIPEDAL_CHECKPOINT: the BipedalWalker-v3 policy to start Hardcore from (default zoo:bipedalwalker_ppo).
#   CARRACING_CHECKPOINT: the CarRacing-v3 policy (standard colours) to fine-tune on domain_randomize
#     (default zoo:carracing_ppo; the zoo has no entry until a run reaches the config's 900, so pass a
#     run's checkpoints/best.pt).
#   SEEDS="1 2 3": the seeds of each side (the median is the middle one).
set -euo pipefail
build=${1:-build}
shift || true
export APIARY_ZOO_DIR=${APIARY_ZOO_DIR:-$(pwd)/zoo}

# name | target config | overrides of both runs | overrides of the transfer run only [| budget in env steps]
pairs=(
  "cartpole_long_pole|configs/cartpole_ppo.yaml|env.options.length=1.0|init.checkpoint=zoo:cartpole_ppo init.parts=all"
  "cartpole_gravity_20|configs/cartpole_ppo.yaml|env.options.gravity=20|init.checkpoint=zoo:cartpole_ppo init.parts=all"
  "lunarlander_wind|configs/lunarlander_ppo.yaml|env.options.enable_wind=1 env.options.wind_power=15 env.options.turbulence_power=1.5 eval.interval_steps=50000|init.checkpoint=zoo:lunarlander_ppo init.parts=all"
  "lunarlander_to_continuous|configs/lunarlandercontinuous_ppo.yaml|eval.interval_steps=50000|init.checkpoint=zoo:lunarlander_ppo init.parts=trunk"
  "carracing_domain_randomize|configs/carracing_ppo.yaml|env.options.domain_randomize=1 stop.mean_return=500 eval.interval_steps=25000|init.checkpoint=${CARRACING_CHECKPOINT:-zoo:carracing_ppo} init.parts=all"
  "bipedalwalker_to_hardcore|configs/bipedalwalker_ppo.yaml|env.id=BipedalWalkerHardcore-v3 eval.interval_steps=250000|init.checkpoint=${BIPEDAL_CHECKPOINT:-zoo:bipedalwalker_ppo} init.parts=all|1000000"
)
wanted=("$@")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# run NAME CONFIG SEED OVERRIDES...: prints "seconds steps best"
run() {
  local name=$1 cfg=$2 seed=$3
  shift 3
  local sets=()
  for kv in "$@"; do sets+=(--set "$kv"); done
  local line
  line=$("$build/apiary" train "$cfg" --quiet --set seed="$seed" --set out_dir="$out" --set name="$name-$seed" \
         --set checkpoint_interval_steps=0 "${sets[@]}" | tail -n 1)
  local s n best
  s=$(sed 's/.*solved_wall_seconds: \([^ ]*\).*/\1/' <<<"$line")
  n=$(sed 's/.*solved_steps: \([^ ]*\).*/\1/' <<<"$line")
  best=$(sed 's/.*best_eval_mean_return: \([^ ]*\).*/\1/' <<<"$line")
  if [ "$n" = "-1" ]; then echo "inf inf $best"; else echo "$s $n $best"; fi
}

median() { printf '%s\n' "$@" | sort -g | sed -n "$((($# + 1) / 2))p"; }
seeds=(${SEEDS:-1 2 3})
cell() { if [ "$2" = inf ]; then echo "not solved (best $3)"; else echo "$2 steps, ${1}s"; fi; }

budget_rows=()
echo "| pair | scratch (seeds 1, 2, 3) | transfer (seeds 1, 2, 3) | median steps scratch / transfer | median seconds scratch / transfer | steps ratio |"
echo "|---|---|---|---|---|---|"
for p in "${pairs[@]}"; do
  IFS='|' read -r name cfg common init budget <<<"$p"
  if [ ${#wanted[@]} -gt 0 ] && ! printf '%s\n' "${wanted[@]}" | grep -qx "$name"; then continue; fi
  read -r -a common_kv <<<"$common"
  read -r -a init_kv <<<"$init"
  if [ -n "${budget:-}" ]; then
    # A fixed budget: the best evaluation of each run (stop.mean_return out of reach).
    common_kv+=(total_steps="$budget" stop.mean_return=.inf)
    bests=()
    for mode in scratch transfer; do
      vals=()
      for seed in "${seeds[@]}"; do
        if [ $mode = scratch ]; then r=$(run "$name-$mode" "$cfg" $seed "${common_kv[@]}")
        else r=$(run "$name-$mode" "$cfg" $seed "${common_kv[@]}" "${init_kv[@]}"); fi
        read -r s n best <<<"$r"
        vals+=("$best")
        echo "$name $mode seed $seed: $r" >&2
      done
      bests+=("$(printf '%s, ' "${vals[@]}" | sed 's/, $//')" "$(median "${vals[@]}")")
    done
    budget_rows+=("| $name | $budget | ${bests[0]} | ${bests[1]} | ${bests[2]} | ${bests[3]} |")
    continue
  fi
  cells=()
  for mode in scratch transfer; do
    secs=(); steps=(); text=""
    for seed in "${seeds[@]}"; do
      if [ $mode = scratch ]; then r=$(run "$name-$mode" "$cfg" $seed "${common_kv[@]}")
      else r=$(run "$name-$mode" "$cfg" $seed "${common_kv[@]}" "${init_kv[@]}"); fi
      read -r s n best <<<"$r"
      secs+=("$s"); steps+=("$n")
      text="$text$(cell "$s" "$n" "$best"); "
      echo "$name $mode seed $seed: $r" >&2
    done
    cells+=("${text%; }" "$(median "${steps[@]}")" "$(median "${secs[@]}")")
  done
  ratio=$(awk -v a="${cells[1]}" -v b="${cells[4]}" 'BEGIN{ if (a=="inf"||b=="inf"||b==0) print "-"; else printf "%.2f", a/b }')
  echo "| $name | ${cells[0]} | ${cells[3]} | ${cells[1]} / ${cells[4]} | ${cells[2]} / ${cells[5]} | $ratio |"
done
if [ ${#budget_rows[@]} -gt 0 ]; then
  echo
  echo "| pair | budget (env steps) | scratch best evaluations (seeds 1, 2, 3) | median | transfer best evaluations | median |"
  echo "|---|---|---|---|---|---|"
  printf '%s\n' "${budget_rows[@]}"
fi
