#!/usr/bin/env bash
# With DAEMON_RESTART_AFTER_UPGRADE=false the agent switches and exits 0 without starting v2.
source "$(dirname "$0")/lib.sh"
export DAEMON_RESTART_AFTER_UPGRADE=false

init_genesis v1.0.0 --upgrade-in 3 --upgrade-name v2
install_upgrade v2 v2.0.0
start_agent
wait_agent_exit 30 "after the upgrade"
[ "$AGENT_RC" -eq 0 ] || fail "agent exit code $AGENT_RC"
current_is upgrades/v2 || fail "current is $(current_target)"
[ "$(events_count event start)" -eq 1 ] || fail "v2 was started"
pass
