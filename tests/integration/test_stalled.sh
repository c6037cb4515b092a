#!/usr/bin/env bash
# A node whose height stops advancing is reported stalled, and is not restarted for it.
source "$(dirname "$0")/lib.sh"
export DAEMON_HEALTH_CHECK_INTERVAL=200ms

init_genesis v1.0.0 --stop-at 5
start_agent
wait_for "healthy" 20 status_is .health healthy
pid=$(status_field .pid)
wait_for "stalled" 20 status_is .health stalled
status_is .height 5 || fail "height $(status_field .height)"
status_is .pid "$pid" || fail "a stalled node was restarted"
status_is .restarts_total 0 || fail "restarts"
agent_log_has "node health from=healthy to=stalled" || fail "not logged"
pass
