#!/usr/bin/env bash
# docs/custom-envs.md, run as a user runs it, against the installed package only:
#   1. `cmake --install` this build into a temporary prefix (the guide's install step);
#   2. every ```sh block of the guide, in order, in an empty folder, with the files the guide shows
#      (<!-- file: NAME --> before a block) written where it says; blocks after a
#      <!-- not run by the test ... --> line are skipped (cloning and building Apiary, a window);
#   3. checks: the guide's gridworld files are envs/examples/gridworld's and its config is
#      configs/examples/gridworld_ppo.yaml; both examples (GridWorld-v0 from an empty folder,
#      PointReacher-v0 from envs/examples/reacher) built against the package and passed check-env (the
#      blocks fail otherwise); PPO solved each on one thread within 60 s; `play` wrote frames; the
#      plugins carry no copy of Apiary and the package needs no LibTorch.
#   usage: examples_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
doc="$src/docs/custom-envs.md"
work=$(mktemp -d "${TMPDIR:-/tmp}/apiary_examples.XXXXXX")
trap 'rm -rf "$work"' EXIT
limit_seconds=${APIARY_EXAMPLE_SOLVE_LIMIT:-60}
fail() { echo "FAIL: $*"; exit 1; }

echo "== cmake --install into $work/prefix"
cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
test -x "$work/prefix/bin/apiary" || fail "no bin/apiary in the prefix"
if grep -rhi torch "$work/prefix/lib/cmake/Apiary" | grep -qv '^ *#'; then fail "the installed CMake package needs LibTorch"; fi

echo "== the guide's commands"
awk '
  /^<!-- file: .* -->$/ { file = $3; next }
  /^<!-- not run by the test/ { skip = 1; next }
  /^```/ {
    if (in_block) { if (mode == "file") print "APIARY_DOC_EOF"; in_block = 0; next }
    in_block = 1
    if (file != "") { mode = "file"; print "cat > " file " <<'"'"'APIARY_DOC_EOF'"'"'"; file = ""; skip = 0; next }
    mode = (substr($0, 4) == "sh" && !skip) ? "sh" : "none"
    if (mode == "sh") print "echo \"== docs/custom-envs.md line " NR "\""
    skip = 0
    next
  }
  in_block && mode != "none" { print }
' "$doc" > "$work/guide.sh"
mkdir "$work/user"
(cd "$work/user" && APIARY_PREFIX="$work/prefix" APIARY_SOURCE="$src" PATH="$work/prefix/bin:$PATH" \
  bash -euo pipefail -x "$work/guide.sh") > "$work/guide.log" 2>&1 || { cat "$work/guide.log"; fail "a command of the guide failed"; }
cat "$work/guide.log"

echo "== checks"
user="$work/user/gridworld"
cmp "$user/gridworld.cpp" "$src/envs/examples/gridworld/gridworld.cpp" || fail "the guide's gridworld.cpp is not envs/examples/gridworld's"
cmp "$user/CMakeLists.txt" "$src/envs/examples/gridworld/CMakeLists.txt" || fail "the guide's CMakeLists.txt is not the example's"
cmp "$user/gridworld_ppo.yaml" "$src/configs/examples/gridworld_ppo.yaml" || fail "the guide's config is not configs/examples/gridworld_ppo.yaml"
for plugin in "$user/build/libgridworld.so" "$user/reacher-build/libreacher.so"; do
  test -f "$plugin" || fail "$plugin was not built"
  # One copy of Apiary in a process: the plugin calls the program's registry and back ends.
  if nm -C --defined-only "$plugin" | grep -q ' apiary::envs::Registry::add'; then fail "$plugin defines Apiary's registry"; fi
  if readelf -d "$plugin" | grep NEEDED | grep -qi 'torch\|c10'; then fail "$plugin needs LibTorch"; fi
done
ls "$user/frames"/frame_*.png > /dev/null || fail "apiary play wrote no frames"
solved=$(grep -o 'solved_wall_seconds: [-0-9.]*' "$work/guide.log" | awk '{ print $2 }')
test "$(echo "$solved" | wc -l)" -eq 2 || fail "expected two training runs in the guide, got: $solved"
for s in $solved; do
  awk -v s="$s" -v l="$limit_seconds" 'BEGIN { exit !(s >= 0 && s <= l) }' ||
    fail "an example was not solved within $limit_seconds s (solved_wall_seconds: $s; -1: never)"
done
echo "ok: both examples solved (solved_wall_seconds: $(echo $solved))"
