#!/usr/bin/env bash
# ctest's runner for one GoogleTest suite of an executable registered BY_SUITE (tests/CMakeLists.txt):
# the suite's tests run in one process, so LibTorch (about 1 s to load) is loaded once a suite, not once
# a test. A suite passes when its process does. A suite whose every test skipped is reported to ctest as
# skipped; a suite where some tests ran and some skipped fails, since ctest could show it only as
# passing: tests that skip where a GPU, a window or the like is missing get a suite of their own.
#   run_suite.sh EXECUTABLE 'Suite.*'
set -u
exe=$1
filter=$2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
"$exe" --gtest_filter="$filter" --gtest_color=no 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
if [ "$rc" -ne 0 ]; then
  exit "$rc"
fi
ran=$(grep -cE '^\[       OK \] .* \([0-9]+ ms\)$' "$log")
skipped=$(grep -cE '^\[  SKIPPED \] .* \([0-9]+ ms\)$' "$log")
if [ "$ran" -eq 0 ] && [ "$skipped" -eq 0 ]; then
  echo "run_suite: no test of $exe matched $filter"
  exit 1
fi
if [ "$ran" -eq 0 ]; then
  echo "run_suite: every test of this suite skipped ($skipped)"
  exit 0
fi
if [ "$skipped" -ne 0 ]; then
  echo "run_suite: $skipped test(s) of $filter skipped while $ran ran; ctest would count them as passing."
  echo "run_suite: give the tests that skip (no GPU, no window, ...) a suite of their own."
  exit 1
fi
