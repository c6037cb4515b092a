#!/usr/bin/env bash
# A node that runs healthy for a while between crashes has its restart count reset: it is
# restarted at once each time and never given up, even with DAEMON_MAX_RESTARTS=1.
source "$(dirname "$0")/lib.sh"
export DAEMON_MAX_RESTARTS=1 DAEMON_HEALTH_CHECK_INTERVAL=200ms

init_genesis v1.0.0 --crash-after 1500
start_agent
wait_for "four starts" 30 node_started 4
status_is .state failed && fail "given up although healthy between crashes"
agent_log_has "restart count reset" || fail "no reset logged"
pass
