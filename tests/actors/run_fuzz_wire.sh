#!/bin/sh
# ctest entry for the wire decoder's libFuzzer target: a seed corpus from wire_seed_corpus, then a
# bounded number of runs. Skips (exit 77, which ctest reports as skipped) when clang was not found.
# usage: run_fuzz_wire.sh FUZZER SEED_PROGRAM WORK_DIR RUNS
fuzzer=$1 seeds=$2 work=$3 runs=$4
if [ ! -x "$fuzzer" ]; then
  echo "SKIPPED: the libFuzzer target was not built (clang++ with -fsanitize=fuzzer not found; apt-get install clang)"
  exit 77
fi
rm -rf "$work" && mkdir -p "$work/corpus" || exit 1
"$seeds" "$work/corpus" || exit 1
exec "$fuzzer" -runs="$runs" -max_len=4096 -seed=1 -artifact_prefix="$work/" "$work/corpus"
