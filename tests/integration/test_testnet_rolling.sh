#!/usr/bin/env bash
# scripts/testnet.sh --scenario rolling: the 4 validators download v2 at different moments, arm
# by quorum and switch before the height, one restart slot at a time (n - q = 1): never more than
# one validator down at once, so the chain never stops.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_testnet.sh"

run_testnet rolling
H=$(upgrade_height rolling)
for i in 1 2 3 4; do
  line=$(node_line rolling "$i") || fail "rolling: no summary line for a$i"
  [[ "$line" =~ v2\.0\.0\ @\ [0-9]+\ +at\ ([0-9]+)\  ]] || fail "rolling: a$i: $line"
  [ "${BASH_REMATCH[1]}" -lt $((H - 1)) ] || fail "rolling: a$i switched at the height, not before: $line"
done
summary_has rolling '^most validators down at once: 1 \(a[1-4], at [0-9:.]+ UTC\)$'
summary_has rolling '^chain downtime .*: 0\.00 s$'
pass
