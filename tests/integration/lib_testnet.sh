# shellcheck shell=bash
# lib_testnet.sh: runs scripts/testnet.sh for the integration tests; sourced after lib.sh.
# testnet.sh gets the ctest binaries (WEMIXVISOR, WVCOORD, FAKENODE), so it builds nothing.
: "${WVCOORD:?set by ctest: path to the wvcoord binary}"
TESTNET="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/scripts/testnet.sh"

# run_testnet SCENARIO: runs the scenario with --no-wait into $T/SCENARIO.out and checks that it
# exited 0, said so, and left nothing behind: no process with its temp dir in its command line,
# and no temp dir.
run_testnet() {
  local scenario=$1 rc dir out="$T/$1.out"
  set +e
  "$TESTNET" --no-wait --scenario "$scenario" >"$out" 2>&1
  rc=$?
  set -e
  [ "$rc" = 0 ] || { cat "$out" >&2; fail "testnet.sh --scenario $scenario exited $rc"; }
  grep -q "^result: OK ($scenario): " "$out" || { cat "$out" >&2; fail "$scenario: no OK result line"; }
  dir=$(grep -o 'under /tmp/wemixvisor-testnet\.[A-Za-z0-9]*' "$out" | head -n 1 | cut -d' ' -f2)
  [ -n "$dir" ] || fail "$scenario: the output does not name its temp dir"
  [ ! -e "$dir" ] || fail "$scenario: $dir was left behind"
  ! pgrep -f -- "$dir/" >/dev/null || fail "$scenario: processes outlived the testnet: $(pgrep -af -- "$dir/")"
  echo "$scenario: $(grep '^run time:' "$out")"
}

# summary_has SCENARIO REGEX: the scenario's output has a line matching REGEX (grep -E).
summary_has() {
  grep -Eq -- "$2" "$T/$1.out" || { cat "$T/$1.out" >&2; fail "$1: no line matching: $2"; }
}
# node_line SCENARIO I: the summary's line of validator aI.
node_line() { grep -E "^a$2 +[0-9a-f]{8} " "$T/$1.out"; }
# upgrade_height SCENARIO: H, from the summary's heading.
upgrade_height() { sed -nE 's/^== summary: .* at height ([0-9]+)$/\1/p' "$T/$1.out"; }
# stopped_in_time SCENARIO I H: validator aI's old node stopped at H-1 (or a little earlier: a node
# lagging behind the network height is stopped where it is). With 300 ms blocks on a loaded
# machine the agent may be one block late (operator.md: at-height precision): tolerated only when
# the summary says so in a note.
stopped_in_time() {
  local line at
  line=$(node_line "$1" "$2") || fail "$1: no summary line for a$2"
  [[ "$line" =~ v2\.0\.0\ @\ [0-9]+\ +at\ ([0-9]+)\  ]] || fail "$1: a$2 did not switch: $line"
  at=${BASH_REMATCH[1]}
  [ "$at" -le "$3" ] || fail "$1: a$2's old node ran on to $at, past the upgrade height $3: $line"
  [ "$at" -le $(($3 - 1)) ] ||
    summary_has "$1" "^note: a$2's old node produced blocks up to $3 \(the upgrade height is $3\)"
}
