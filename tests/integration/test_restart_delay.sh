#!/usr/bin/env bash
# DAEMON_RESTART_DELAY is honoured between the old node's exit and the new node's start.
source "$(dirname "$0")/lib.sh"
export DAEMON_RESTART_DELAY=2s

init_genesis v1.0.0 --upgrade-in 3 --upgrade-name v2
install_upgrade v2 v2.0.0
start_agent
wait_for "v2 started" 20 started_is 2 v2.0.0
exit_ns=$(jq -s '[.[] | select(.event == "exit")][0].t_ns' "$EVENTS")
start_ns=$(jq -s '[.[] | select(.event == "start")][1].t_ns' "$EVENTS")
gap_ms=$(((start_ns - exit_ns) / 1000000))
[ "$gap_ms" -ge 2000 ] || fail "new node started ${gap_ms} ms after the old one exited; the delay is 2s"
agent_log_has "waiting before starting the new binary" || fail "the delay is not logged"
pass
