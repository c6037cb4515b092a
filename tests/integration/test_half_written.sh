#!/usr/bin/env bash
# A node that writes upgrade-info.json slowly (half, pause, rest): the agent waits for the whole
# file and upgrades, without reporting it as invalid.
source "$(dirname "$0")/lib.sh"
export WEMIXVISOR_WATCH=poll DAEMON_POLL_INTERVAL=50ms

init_genesis v1.0.0 --upgrade-in 3 --upgrade-name v2 --slow-write
install_upgrade v2 v2.0.0
start_agent
wait_for "v2 started" 20 started_is 2 v2.0.0
if agent_log_has "upgrade info is invalid"; then fail "a half-written file was rejected"; fi
pass
