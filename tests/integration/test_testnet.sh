#!/usr/bin/env bash
# scripts/testnet.sh, the project's main command, end to end with the ctest binaries: the default
# scenario (4 validators over CURVE download v2 and switch together at the height, every node back
# and producing) and `blocked` (2/4 ready, need 3: nobody switches, the reason is shown); each
# exits 0 and leaves no process and no file behind. Also its usage errors and --help.
# (test_testnet_rolling.sh and test_testnet_scenarios.sh run the other scenarios, so that each
# test stays well within its timeout.)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_testnet.sh"

# usage: --help exits 0 and names the scenarios; a wrong scenario or flag exits 2, naming it
"$TESTNET" --help >"$T/help.out" || fail "--help exited $?"
for s in at-height blocked rolling late crash partition --no-wait; do grep -q -- "$s" "$T/help.out" || fail "--help lacks $s"; done
set +e
"$TESTNET" --scenario nope >"$T/bad.out" 2>&1
rc1=$?
"$TESTNET" --frobnicate >"$T/bad2.out" 2>&1
rc2=$?
set -e
[ "$rc1" = 2 ] || fail "--scenario nope exited $rc1"
grep -q "unknown scenario 'nope'" "$T/bad.out" || fail "--scenario nope: $(cat "$T/bad.out")"
[ "$rc2" = 2 ] || fail "--frobnicate exited $rc2"
grep -q "frobnicate" "$T/bad2.out" || fail "--frobnicate: $(cat "$T/bad2.out")"

# the default scenario: at-height
run_testnet at-height
H=$(upgrade_height at-height)
[ -n "$H" ] || fail "at-height: no upgrade height in the summary"
for i in 1 2 3 4; do
  line=$(node_line at-height "$i") || fail "at-height: no summary line for a$i"
  # v1.0.0 before, v2.0.0 after and producing past the height, some downtime measured
  [[ "$line" =~ v1\.0\.0\ @\ [0-9]+\ +v2\.0\.0\ @\ ([0-9]+)\ +at\ [0-9]+\ +[0-9.]+\ s$ ]] ||
    fail "at-height: a$i: $line"
  [ "${BASH_REMATCH[1]}" -gt "$H" ] || fail "at-height: a$i is not producing past $H: $line"
  stopped_in_time at-height "$i" "$H"
done
summary_has at-height '^validators: 4, quorum 3, at most 1 may be down at once$'
summary_has at-height '^chain downtime \(more than 1 validator\(s\) down at once\): [0-9]+\.[0-9]{2} s$'
summary_has at-height '^wvcoord: all nodes running, no upgrade blocked$'
summary_has at-height 'dashboard: http://127\.0\.0\.1:[0-9]+/'
summary_has at-height 'v2: 4/4 ready \(quorum 3\)'

# blocked: two validators cannot download the binary
run_testnet blocked
for i in 1 2 3 4; do
  line=$(node_line blocked "$i") || fail "blocked: no summary line for a$i"
  [[ "$line" =~ v1\.0\.0\ @\ [0-9]+\ +v1\.0\.0\ @\ [0-9]+\ +-\ +0\.00\ s$ ]] || fail "blocked: a$i: $line"
done
summary_has blocked '^wvcoord: upgrade v2 is blocked on 2 validator\(s\): 2/4 ready, need 3$'
summary_has blocked '^a1: v2 blocked: 2/4 ready, need 3$'
summary_has blocked '^a3: v2 waiting: 2/4 ready, need 3; the binary is missing here \(download: HTTP status 404 from http://127\.0\.0\.1:[0-9]+/missing/'
summary_has blocked '^chain downtime .*: 0\.00 s$'

pass
