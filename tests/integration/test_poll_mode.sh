#!/usr/bin/env bash
# WEMIXVISOR_WATCH=poll: the upgrade is found by polling alone.
source "$(dirname "$0")/lib.sh"
export WEMIXVISOR_WATCH=poll DAEMON_POLL_INTERVAL=100ms

init_genesis v1.0.0 --upgrade-in 3 --upgrade-name v2
install_upgrade v2 v2.0.0
start_agent
wait_for "v2 started" 20 started_is 2 v2.0.0
agent_log_has "mode=poll" || fail "not in poll mode"
pass
