#!/usr/bin/env bash
# shellcheck disable=SC2119 # start_agent without arguments: the default node arguments
# A pre-upgrade script that hangs is killed at DAEMON_PREUPGRADE_TIMEOUT and fails the upgrade.
# The upgrade was asked for by the node (data/upgrade-info.json: it is at its height), so after
# the rollback the node is left stopped, on the previous binary, with its data as it was.
# What the operator sees: the log says "pre-upgrade script <path> timed out" and "upgrade rolled
# back; the node is left STOPPED: the previous binary cannot go past the upgrade height. Fix the
# upgrade, then `wemixvisor start`"; state.json lists v2 under failed with that reason;
# `wemixvisor status --json` says .state "stopped", .want_running false, no pending upgrade.
source "$(dirname "$0")/lib.sh"
export DAEMON_PREUPGRADE_TIMEOUT=500ms UNSAFE_SKIP_BACKUP=true

printf '#!/bin/sh\necho $$ >"%s/hook.pid"\nexec tail -f /dev/null\n' "$T" >"$T/hang.sh"
chmod +x "$T/hang.sh"
export WEMIXVISOR_CUSTOM_PREUPGRADE="$T/hang.sh"
init_genesis v1.0.0
install_upgrade v2 v2.0.0
mkdir -p "$DATA/chaindata"
head -c 100000 /dev/urandom >"$DATA/chaindata/000001.ldb"
snapshot_data
start_agent
wait_for "node started" 10 node_started 1
write_upgrade_info '{"name":"v2","height":5}'
wait_for "v2 failed" 30 journal_has_failed v2
agent_log_has "pre-upgrade script $T/hang.sh timed out" || fail "time-out not logged"
gone() { ! kill -0 "$(cat "$T/hook.pid")" 2>/dev/null; }
wait_for "the hook is gone" 10 gone
jq -e '.failed[0].reason | test("timed out")' "$DAEMON_HOME/wemixvisor/state.json" >/dev/null || fail "reason"

# the end state: rolled back and held, consistent
wait_for "rollback said" 10 agent_log_has "upgrade rolled back; the node is left STOPPED"
wait_for "left stopped" 10 status_is .state stopped
status_is .want_running false || fail "want_running $(status_field .want_running)"
status_is .pending_upgrade null || fail "still pending: $(status_field .pending_upgrade)"
current_is genesis || fail "current is $(current_target)"
[ "$(events_count event start)" -eq 1 ] || fail "v2 was started"
node_count_is 0 || fail "a node runs: $(node_pids)"
jq -e '.step == null' "$DAEMON_HOME/wemixvisor/state.json" >/dev/null || fail "step left in the journal"
data_hashes >"$T/data.now"
diff -u "$T/data.snapshot" "$T/data.now" >&2 || fail "chain data changed"
[ -z "$(leftover_temps)" ] || fail "temporary files left behind: $(leftover_temps | tr '\n' ' ')"
pass
