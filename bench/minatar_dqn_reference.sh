#!/usr/bin/env bash
# The reference's DQN (kenjyoung/MinAtar examples/dqn.py, PyTorch: its network, one frame at a time, a
# gradient step of 32 every frame, replay of 100k, target network every 1000 frames, learning from frame
# 5000) beside Apiary's DQN in the same setting (configs/minatar_breakout_dqn.yaml with those values, one
# lane, one thread), on one game for the same number of frames: the wall-clock of each. The reference
# runs 5M frames; FRAMES cuts both to fewer (its copy in a temporary folder gets NUM_FRAMES = FRAMES).
# MinAtar is not part of Apiary: give its checkout (a folder holding minatar/ and examples/).
# Usage: [PYTHON=/usr/bin/python3] [FRAMES=50000] bash bench/minatar_dqn_reference.sh BUILD PATH_TO_MINATAR [GAME]
#   (a Python with numpy and torch, e.g. Debian's python3-torch)
set -euo pipefail
build=${1:?usage: bash bench/minatar_dqn_reference.sh BUILD PATH_TO_MINATAR [GAME]}
ref=${2:?usage: bash bench/minatar_dqn_reference.sh BUILD PATH_TO_MINATAR [GAME]}
game=${3:-breakout}
frames=${FRAMES:-50000}
declare -A ids=([asterix]=Asterix [breakout]=Breakout [freeway]=Freeway [seaquest]=Seaquest [space_invaders]=SpaceInvaders)
id="MinAtar/${ids[$game]:?unknown game $game}-v0"  # the reference's Environment(game): all six actions
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed "s/^NUM_FRAMES = .*/NUM_FRAMES = $frames/" "$ref/examples/dqn.py" > "$work/dqn.py"
grep -q "^NUM_FRAMES = $frames\$" "$work/dqn.py" || { echo "could not set NUM_FRAMES in $ref/examples/dqn.py" >&2; exit 1; }
start=$(date +%s.%N)
(cd "$work" && OMP_NUM_THREADS=1 PYTHONPATH="$ref" "${PYTHON:-python3}" dqn.py -g "$game" -o "$work/ref" > "$work/ref.log" 2>&1) ||
  { tail -20 "$work/ref.log" >&2; exit 1; }
ref_s=$(echo "$(date +%s.%N) - $start" | bc)
tail -n 2 "$work/ref.log" | sed 's/^/reference: /'
start=$(date +%s.%N)
line=$(OPENBLAS_NUM_THREADS=1 "$build/apiary" train configs/minatar_breakout_dqn.yaml --quiet --set out_dir="$work" \
  --set env.id="$id" --set env.num_envs=1 --set threads=1 --set total_steps="$frames" --set dqn.train_frequency=1 \
  --set dqn.gradient_steps=1 --set dqn.batch_size=32 --set dqn.buffer_size=100000 --set dqn.learning_starts=5000 \
  --set dqn.target_network_frequency=1000 --set dqn.learning_rate=0.00025 --set dqn.exploration_fraction=1 \
  --set eval.interval_steps=0 --set eval.episodes=10 --set checkpoint_interval_steps=0 | tail -n 1)
apiary_s=$(echo "$(date +%s.%N) - $start" | bc)
echo "apiary: $line"
printf '| %s | %d frames | reference examples/dqn.py %.1f s (%.0f frames/s) | Apiary %.1f s (%.0f frames/s) | %.1fx |\n' \
  "$id" "$frames" "$ref_s" "$(echo "$frames / $ref_s" | bc -l)" "$apiary_s" "$(echo "$frames / $apiary_s" | bc -l)" \
  "$(echo "$ref_s / $apiary_s" | bc -l)"
