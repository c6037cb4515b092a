#!/usr/bin/env bash
# With DAEMON_RESTART_AFTER_UPGRADE=false the agent switches and exits 0 without starting v2.
source "$(dirname "$0")/lib.sh"
export DAEMON_RESTART_AFTER_UPGRADE=false

init_genesis v1.0.0 --upgrade-in 3 --upgrade-name v2
install_upgrade v2 v2.0.0
start_agent
wait_quiet_exit "$AGENT_PID" 30 || fail "agent did not exit after the upgrade"
set +e
wait "$AGENT_PID"
rc=$?
set -e
AGENT_PID=
[ "$rc" -eq 0 ] || fail "agent exit code $rc"
current_is upgrades/v2 || fail "current is $(current_target)"
[ "$(events_count event start)" -eq 1 ] || fail "v2 was started"
pass
