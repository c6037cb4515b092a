#!/usr/bin/env bash
# A node that ignores SIGTERM (and SIGQUIT) is sent SIGQUIT after the grace, then SIGKILL.
source "$(dirname "$0")/lib.sh"
export DAEMON_SHUTDOWN_GRACE=300ms

init_genesis v1.0.0 --ignore-sigterm --ignore-sigquit --upgrade-in 3 --upgrade-name v2
install_upgrade v2 v2.0.0
start_agent
wait_for "v2 started" 30 started_is 2 v2.0.0
[ "$(events_count event sigterm)" -ge 1 ] || fail "no SIGTERM first"
[ "$(events_count event sigquit)" -eq 1 ] || fail "no SIGQUIT after the grace"
agent_log_has "sending SIGKILL" || fail "SIGKILL not logged"
pass
