#!/usr/bin/env bash
# Regenerates the zoo (zoo/<config>.pt, zoo/index.tsv, zoo/README.md) from the shipped configs: each
# config is trained with its own seed and budget, its best checkpoint is exported (config and policy
# network only), and the entry is scored by `apiary eval` over 100 episodes on each of three evaluation
# seeds (2024, 2025, 2026). A config whose score on any of them is below its stop.mean_return is left
# out (and said so): an entry must not pass on one lucky seed.
# Usage: bash bench/zoo.sh [BUILD_DIR] [CONFIG ...]   (default: every configs/*.yaml)
#   ZOO_SEED=N trains with seed N instead of 1 (the index records the seed of each entry).
#   ZOO_SET="key=value ..." adds config overrides to every training run (a smaller total_steps).
#   ZOO_RUNS=DIR takes the finished run DIR/<config name> (trained from that config, e.g. a benchmark's
#     run renamed) instead of training again: its checkpoints/best.pt, its seed and its last step.
#   ZOO_RESCORE=1 trains nothing: it scores the entries already in zoo/ again (their steps and seed
#     stay as the index has them) and drops those that no longer pass.
set -euo pipefail
build=${1:-build}
shift || true
configs=("$@")
[ ${#configs[@]} -gt 0 ] || configs=(configs/*.yaml)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p zoo
rows="$work/rows.tsv"
: > "$rows"
# Entries already in the index and not regenerated now stay.
if [ -f zoo/index.tsv ]; then
  tail -n +2 zoo/index.tsv > "$work/old.tsv" || true
fi
for cfg in "${configs[@]}"; do
  name=$(basename "$cfg" .yaml)
  seed=${ZOO_SEED:-1}
  extra=()
  for kv in ${ZOO_SET:-}; do extra+=(--set "$kv"); done
  run="$work/$name"
  if [ -n "${ZOO_RESCORE:-}" ]; then
    old_row=$(awk -F'\t' -v n="$name" '$1 == n' "$work/old.tsv" 2>/dev/null || true)
    [ -n "$old_row" ] && [ -f "zoo/$name.pt" ] || { echo "$name: not in the zoo, skipped" >&2; continue; }
    steps=$(cut -f6 <<<"$old_row")
    seed=$(cut -f7 <<<"$old_row")
  elif [ -n "${ZOO_RUNS:-}" ]; then
    run="$ZOO_RUNS/$name"
    [ -f "$run/config.yaml" ] || { echo "$name: no run $run, skipped" >&2; continue; }
    seed=$(grep -m1 '^seed:' "$run/config.yaml" | sed 's/seed: *\([0-9]*\).*/\1/')
    steps=$(tail -n 1 "$run/metrics.csv" | cut -d, -f1)
  else
    line=$("$build/apiary" train "$cfg" --quiet --set seed=$seed --set out_dir="$work" --set name="$name" "${extra[@]}" | tail -n 1)
    steps=$(sed 's/.* steps: \([^ ]*\).*/\1/' <<<"$line")
  fi
  if [ -z "${ZOO_RESCORE:-}" ]; then
    ckpt="$run/checkpoints/best.pt"
    [ -f "$ckpt" ] || { echo "$name: no best.pt, skipped" >&2; continue; }
    "$build/apiary" export "$ckpt" "zoo/$name.pt" > /dev/null
  fi
  # The threshold and algorithm are the shipped config's (a run may have trained to a higher stop).
  target=$(grep -m1 -A2 '^stop:' "$cfg" | grep mean_return | sed 's/.*mean_return: *\([^ #]*\).*/\1/')
  means=() passed=1
  for eval_seed in 2024 2025 2026; do
    eval_out=$("$build/apiary" eval "zoo/$name.pt" --episodes 100 --seed $eval_seed)
    eval_line=$(tail -n 1 <<<"$eval_out")
    seed_mean=$(sed 's/.*mean_return: \([^ ]*\).*/\1/' <<<"$eval_line")
    means+=("$seed_mean")
    awk -v m="$seed_mean" -v t="$target" 'BEGIN{exit !(m >= t)}' || passed=0
    if [ "$eval_seed" = 2024 ]; then
      env_line=$(head -n 1 <<<"$eval_out")
      env_id=${env_line%%:*}
      mean=$seed_mean
      std=$(sed 's/.*std: \([^ ]*\).*/\1/' <<<"$eval_line")
    fi
  done
  seed_means=$(IFS=/; echo "${means[*]}")
  algo=$(grep -m1 '^algo:' "$cfg" | sed 's/algo: *"\{0,1\}\([a-z0-9_]*\)"\{0,1\}.*/\1/')
  if [ "$passed" = 1 ]; then
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$env_id" "$algo" "$mean" "$std" "$steps" "$seed" "$seed_means" >> "$rows"
    echo "$name: $env_id $algo mean $mean +- $std over 100 episodes, $seed_means on seeds 2024/2025/2026 ($steps steps)"
  else
    rm -f "zoo/$name.pt"
    echo "$name: evaluations $seed_means (seeds 2024/2025/2026), one below $target: not in the zoo" >&2
  fi
done
# Merge with the entries not regenerated, sort by name, write the index and the README.
if [ -f "$work/old.tsv" ]; then
  cut -f1 "$rows" > "$work/new_names"
  grep -v -F -w -f "$work/new_names" "$work/old.tsv" >> "$rows" || true
fi
sort -t$'\t' -k1,1 "$rows" -o "$rows"
{ printf 'name\tenv\talgo\tmean_return\tstd_return\tsteps\tseed\tmeans_2024_2025_2026\n'; cat "$rows"; } > zoo/index.tsv
{
  echo "# The zoo: trained policies for the bundled environments"
  echo
  echo "Each entry is a checkpoint stripped to its config and policy network (\`apiary export\`), trained"
  echo "from \`configs/<name>.yaml\` with the seed below; \`zoo:<name>\` or \`zoo:<env id>\` works wherever a"
  echo "checkpoint path does (\`apiary eval\`, \`apiary play\`, \`init.checkpoint\`). For an env with several"
  echo "entries, \`init.checkpoint: zoo:<env id>\` takes the one of the run's algorithm, and eval and play the"
  echo "best by evaluation. Figures: \`apiary eval\`, 100 episodes, deterministic policy, on evaluation seeds"
  echo "2024, 2025 and 2026; an entry stays only if all three reach the env's threshold (the config's"
  echo "stop.mean_return). The mean ± std is seed 2024's. Regenerate with \`bash bench/zoo.sh build\`."
  echo
  echo "| entry | env | algorithm | evaluation (100 episodes) | seeds 2024/2025/2026 | steps | seed | size |"
  echo "|---|---|---|---|---|---|---|---|"
  while IFS=$'\t' read -r name env algo mean std steps seed seed_means; do
    size=$(du -k "zoo/$name.pt" | cut -f1)
    printf '| %s | %s | %s | %.1f ± %.1f | %s | %s | %s | %s KB |\n' "$name" "$env" "$algo" "$mean" "$std" \
      "$seed_means" "$steps" "$seed" "$size"
  done < "$rows"
} > zoo/README.md
echo "zoo: $(wc -l < "$rows") entries"
