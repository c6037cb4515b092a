#!/usr/bin/env bash
# A pre-upgrade script that hangs is killed at DAEMON_PREUPGRADE_TIMEOUT and fails the upgrade.
source "$(dirname "$0")/lib.sh"
export DAEMON_PREUPGRADE_TIMEOUT=500ms UNSAFE_SKIP_BACKUP=true

printf '#!/bin/sh\necho $$ >"%s/hook.pid"\nexec tail -f /dev/null\n' "$T" >"$T/hang.sh"
chmod +x "$T/hang.sh"
export WEMIXVISOR_CUSTOM_PREUPGRADE="$T/hang.sh"
init_genesis v1.0.0
install_upgrade v2 v2.0.0
start_agent
wait_for "node started" 10 node_started 1
write_upgrade_info '{"name":"v2","height":5}'
wait_for "v2 failed" 30 journal_has_failed v2
agent_log_has "timed out" || fail "time-out not logged"
gone() { ! kill -0 "$(cat "$T/hook.pid")" 2>/dev/null; }
wait_for "the hook is gone" 10 gone
jq -e '.failed[0].reason | test("timed out")' "$DAEMON_HOME/wemixvisor/state.json" >/dev/null || fail "reason"
current_is genesis || fail "current is $(current_target)"
[ "$(events_count event start)" -eq 1 ] || fail "v2 was started"
pass
