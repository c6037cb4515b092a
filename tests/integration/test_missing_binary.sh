#!/usr/bin/env bash
# An upgrade whose binary is missing is an error naming the expected path; the node keeps
# running; the upgrade proceeds as soon as the binary appears, with the same agent.
source "$(dirname "$0")/lib.sh"

init_genesis v1.0.0
start_agent
wait_for "node started" 10 node_started 1
write_upgrade_info '{"name":"v2","height":100}'
expected="$DAEMON_HOME/wemixvisor/upgrades/v2/bin/wemixd"
wait_for "error naming the path" 10 agent_log_has "expected=$expected"
h=$(node_height)
wait_for "the old node keeps producing" 10 height_at_least $((h + 3))
[ "$(events_count event sigterm)" -eq 0 ] || fail "the node was stopped without a binary to switch to"
current_is genesis || fail "current moved to $(current_target)"

install_upgrade v2 v2.0.0
wait_for "v2 started" 20 started_is 2 v2.0.0
kill -0 "$AGENT_PID" || fail "the agent is gone"
pass
