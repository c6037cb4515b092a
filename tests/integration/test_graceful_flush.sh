#!/usr/bin/env bash
# A node that needs time to flush on SIGTERM gets it (within DAEMON_SHUTDOWN_GRACE): no SIGQUIT.
source "$(dirname "$0")/lib.sh"
export DAEMON_SHUTDOWN_GRACE=10s

init_genesis v1.0.0 --flush-ms 1500 --upgrade-in 3 --upgrade-name v2
install_upgrade v2 v2.0.0
start_agent
wait_for "v2 started" 20 started_is 2 v2.0.0
[ "$(events_count event sigquit)" -eq 0 ] || fail "the flushing node got SIGQUIT"
jq -s -e '[.[] | select(.event == "exit")][0].code == 0' "$EVENTS" >/dev/null || fail "v1 did not finish its flush"
pass
