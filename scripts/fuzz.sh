#!/usr/bin/env bash
# Fuzzes every decoder of untrusted input with libFuzzer under ASan+UBSan (tests/fuzz/README.md).
#   scripts/fuzz.sh [SECONDS] [TARGET...]   SECONDS per target (default 10), every target if none
#   scripts/fuzz.sh 600                     the long run: before a release, after a parser change
# Configures and builds build-fuzz (clang), replays each target's corpus and regressions, then
# fuzzes each target from a copy of its corpus in build-fuzz/fuzz-work/<target>/ (the repository's
# corpus is never written). FUZZ_JOBS targets run at once (default: the number of cores). Fails if
# any target crashes, leaks, times out or runs out of memory; the input is left in
# build-fuzz/fuzz-work/<target>/artifacts/ (keep it in tests/fuzz/regressions/<target>/).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build="$top/build-fuzz"
seconds=${1:-10}
shift || true
jobs=${FUZZ_JOBS:-$(nproc)}
case "$seconds" in '' | *[!0-9]*) echo "fuzz.sh: SECONDS must be a whole number, not \"$seconds\"" >&2; exit 2 ;; esac

# The targets are the ones tests/fuzz/CMakeLists.txt builds.
mapfile -t all < <(sed -n 's/^set(WV_FUZZ_TARGETS \(.*\))$/\1/p' "$top/tests/fuzz/CMakeLists.txt" | tr ' ' '\n')
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
for t in "${targets[@]}"; do
  [[ " ${all[*]} " == *" $t "* ]] || { echo "fuzz.sh: no target \"$t\"; the targets are: ${all[*]}" >&2; exit 2; }
done

# clang alone is not enough: libFuzzer and the sanitizers' runtimes are in libclang-rt-*-dev.
if ! command -v clang >/dev/null; then
  echo "fuzz.sh: clang is not installed (scripts/install-deps.sh installs it)" >&2
  exit 1
fi
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }' >"$probe/p.c"
if ! clang -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" 2>"$probe/err"; then
  echo "fuzz.sh: clang cannot link libFuzzer with ASan+UBSan; install clang's runtime package" >&2
  echo "(apt-get install libclang-rt-\$(clang -dumpversion | cut -d. -f1)-dev):" >&2
  cat "$probe/err" >&2
  exit 1
fi

echo "== fuzz: build ($build)"
CC=clang cmake -S "$top" -B "$build" -DWV_FUZZ=ON -DWV_SANITIZE=ON -DWV_UNIT_ONLY=ON >/dev/null
cmake --build "$build" -j"$(nproc)" --target fuzz_targets >/dev/null

echo "== fuzz: replay of the corpus and the regressions"
(cd "$build" && ctest --output-on-failure -j"$(nproc)" -L fuzz -R '^fuzz\.replay\.')

[ "$seconds" -gt 0 ] || exit 0
echo "== fuzz: ${seconds} s per target, $jobs at a time: ${targets[*]}"
export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

run_one() {
  local t=$1 work="$build/fuzz-work/$1"
  rm -rf "$work"
  mkdir -p "$work/corpus" "$work/artifacts"
  cp -R "$top/tests/fuzz/corpus/$t/." "$work/corpus/" 2>/dev/null || true
  local seeds=()
  [ -d "$top/tests/fuzz/regressions/$t" ] && seeds+=("$top/tests/fuzz/regressions/$t")
  # -timeout: one input; -rss_limit_mb: the whole process; new inputs go to the first directory
  "$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2560 \
    -close_fd_mask=3 -print_final_stats=1 -artifact_prefix="$work/artifacts/" \
    "$work/corpus" "${seeds[@]}" >"$work/log" 2>&1
}

declare -A pids
for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  run_one "$t" &
  pids[$t]=$!
done

failed=()
printf '%-14s %10s %8s %8s %8s  %s\n' target runs exec/s cov ft result
for t in "${targets[@]}"; do
  rc=0
  wait "${pids[$t]}" || rc=$?
  log="$build/fuzz-work/$t/log"
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  result=ok
  if [ "$rc" -ne 0 ]; then
    result="FAILED (exit $rc): $(find "$build/fuzz-work/$t/artifacts" -type f -printf '%f ' | head -c 300)"
    failed+=("$t")
  fi
  printf '%-14s %10s %8s %8s %8s  %s\n' "$t" "${runs:--}" "${rate:--}" "${cov:--}" "${ft:--}" "$result"
done
for t in "${failed[@]}"; do
  echo "---- fuzz_$t: $build/fuzz-work/$t/log (last lines)"
  grep -v '^#[0-9]' "$build/fuzz-work/$t/log" | tail -40
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: ${failed[*]} failed; fix, then keep each input as tests/fuzz/regressions/<target>/crash-<what>" >&2
  exit 1
fi
echo "== fuzz: no crash"
