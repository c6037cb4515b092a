#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs the packages, builds, runs the unit and
# integration tests, the unit tests again under ASan+UBSan and under valgrind, a short run of the
# fuzz targets (scripts/fuzz.sh), and clang-format.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=$(nproc)

"$top/scripts/install-deps.sh"

echo "== build (with the fault points of the crash-safety tests)"
"$top/scripts/build.sh" "$top/build" -DWV_FAULT_INJECTION=ON

echo "== unit and integration tests"
(cd build && ctest --output-on-failure -j"$jobs" --timeout 300)

echo "== unit tests under ASan+UBSan"
"$top/scripts/build.sh" "$top/build-asan" -DWV_SANITIZE=ON -DWV_UNIT_ONLY=ON -DCMAKE_BUILD_TYPE=Debug
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --output-on-failure -j"$jobs" -L unit)

echo "== fuzz targets: corpus and regression replay, then 5 s each (the long run: scripts/fuzz.sh 600)"
"$top/scripts/fuzz.sh" 5

echo "== unit tests under valgrind"
vg_pass=0
vg_fail=0
for t in build/tests/unit/test_*; do
  [ -x "$t" ] || continue
  if valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=97 \
      "$t" >"build/$(basename "$t").valgrind.log" 2>&1; then
    vg_pass=$((vg_pass + 1))
  else
    vg_fail=$((vg_fail + 1))
    echo "valgrind: $(basename "$t") failed:"; cat "build/$(basename "$t").valgrind.log"
  fi
done
echo "valgrind: $vg_pass clean, $vg_fail with errors"
[ "$vg_fail" -eq 0 ]

echo "== clang-format"
files=$(git ls-files '*.c' '*.h')
clang-format --dry-run --Werror $files

echo "== all checks passed"
