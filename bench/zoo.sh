#!/usr/bin/env bash
# Regenerates the zoo (zoo/<config>.pt, zoo/index.tsv, zoo/README.md) from the shipped configs: each
# config is trained with its own seed and budget, its best checkpoint is exported (config and policy
# network only), and the entry's figures come from `apiary eval` over 100 episodes. A config whose
# evaluation does not reach its stop.mean_return is left out (and said so).
# Usage: bash bench/zoo.sh [BUILD_DIR] [CONFIG ...]   (default: every configs/*.yaml)
#   ZOO_SEED=N trains with seed N instead of 1 (the index records the seed of each entry).
#   ZOO_SET="key=value ..." adds config overrides to every training run (a smaller total_steps).
#   ZOO_RUNS=DIR takes the finished run DIR/<config name> (trained from that config, e.g. a benchmark's
#     run renamed) instead of training again: its checkpoints/best.pt, its seed and its last step.
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
  if [ -n "${ZOO_RUNS:-}" ]; then
    run="$ZOO_RUNS/$name"
    [ -f "$run/config.yaml" ] || { echo "$name: no run $run, skipped" >&2; continue; }
    seed=$(grep -m1 '^seed:' "$run/config.yaml" | sed 's/seed: *\([0-9]*\).*/\1/')
    steps=$(tail -n 1 "$run/metrics.csv" | cut -d, -f1)
  else
    line=$("$build/apiary" train "$cfg" --quiet --set seed=$seed --set out_dir="$work" --set name="$name" "${extra[@]}" | tail -n 1)
    steps=$(sed 's/.* steps: \([^ ]*\).*/\1/' <<<"$line")
  fi
  ckpt="$run/checkpoints/best.pt"
  [ -f "$ckpt" ] || { echo "$name: no best.pt, skipped" >&2; continue; }
  "$build/apiary" export "$ckpt" "zoo/$name.pt" > /dev/null
  eval_out=$("$build/apiary" eval "zoo/$name.pt" --episodes 100 --seed 2024)
  eval_line=$(tail -n 1 <<<"$eval_out")
  env_line=$(head -n 1 <<<"$eval_out")
  env_id=${env_line%%:*}
  mean=$(sed 's/.*mean_return: \([^ ]*\).*/\1/' <<<"$eval_line")
  std=$(sed 's/.*std: \([^ ]*\).*/\1/' <<<"$eval_line")
  algo=$(grep -m1 '^algo:' "$run/config.yaml" | sed 's/algo: *"\{0,1\}\([a-z0-9_]*\)"\{0,1\}.*/\1/')
  target=$(grep -m1 -A2 '^stop:' "$run/config.yaml" | grep mean_return | sed 's/.*mean_return: *\([^ #]*\).*/\1/')
  if awk -v m="$mean" -v t="$target" 'BEGIN{exit !(m >= t)}'; then
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$env_id" "$algo" "$mean" "$std" "$steps" "$seed" >> "$rows"
    echo "$name: $env_id $algo mean $mean +- $std over 100 episodes ($steps steps)"
  else
    rm -f "zoo/$name.pt"
    echo "$name: evaluation $mean below $target, not in the zoo" >&2
  fi
done
# Merge with the entries not regenerated, sort by name, write the index and the README.
if [ -f "$work/old.tsv" ]; then
  cut -f1 "$rows" > "$work/new_names"
  grep -v -F -w -f "$work/new_names" "$work/old.tsv" >> "$rows" || true
fi
sort -t$'\t' -k1,1 "$rows" -o "$rows"
{ printf 'name\tenv\talgo\tmean_return\tstd_return\tsteps\tseed\n'; cat "$rows"; } > zoo/index.tsv
{
  echo "# The zoo: trained policies for the bundled environments"
  echo
  echo "Each entry is a checkpoint stripped to its config and policy network (\`apiary export\`), trained"
  echo "from \`configs/<name>.yaml\` with the seed below; \`zoo:<name>\` or \`zoo:<env id>\` works wherever a"
  echo "checkpoint path does (\`apiary eval\`, \`apiary play\`, \`init.checkpoint\`). Figures: \`apiary eval\`,"
  echo "100 episodes, seed 2024, deterministic policy. Regenerate with \`bash bench/zoo.sh build\`."
  echo
  echo "| entry | env | algorithm | evaluation (100 episodes) | steps | seed | size |"
  echo "|---|---|---|---|---|---|---|"
  while IFS=$'\t' read -r name env algo mean std steps seed; do
    size=$(du -k "zoo/$name.pt" | cut -f1)
    printf '| %s | %s | %s | %.1f ± %.1f | %s | %s | %s KB |\n' "$name" "$env" "$algo" "$mean" "$std" "$steps" "$seed" "$size"
  done < "$rows"
} > zoo/README.md
echo "zoo: $(wc -l < "$rows") entries"
