#!/usr/bin/env bash
# scripts/testnet.sh's other scenarios (test_testnet.sh: at-height, blocked; test_testnet_rolling.sh):
# `late` (a validator that gets its binary after the height catches up) and `crash` (a
# crash-looping node is given up as failed and wvcoord reports it; the quorum upgrades without it).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_testnet.sh"

run_testnet late
H=$(upgrade_height late)
line=$(node_line late 4) || fail "late: no summary line for a4"
[[ "$line" =~ v2\.0\.0\ @\ [0-9]+\ +at\ ([0-9]+)\  ]] || fail "late: a4: $line"
[ "${BASH_REMATCH[1]}" -ge "$H" ] || fail "late: a4 switched before the height, without its binary: $line"
for i in 1 2 3; do stopped_in_time late "$i" "$H"; done
summary_has late '^wvcoord: all nodes running, no upgrade blocked$'

run_testnet crash
summary_has crash '^\[.*\] wvcoord: node [0-9a-f]{8} is failed$'
summary_has crash '^a4 before the upgrade: given up after 3 starts; wvcoord said: node [0-9a-f]{8} is failed$'
for i in 1 2 3; do node_line crash "$i" | grep -Eq 'v2\.0\.0 @ [0-9]+ +at [0-9]+ ' || fail "crash: a$i: $(node_line crash "$i")"; done
pass
