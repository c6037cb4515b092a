#!/usr/bin/env bash
# SIGQUIT and SIGHUP to the agent reach the node; SIGINT stops the node and then the agent,
# leaving no process of the node's group behind.
source "$(dirname "$0")/lib.sh"

init_genesis v1.0.0 --ignore-sigquit
start_agent
wait_for "node started" 10 node_started 1
node_pid=$(jq -s '[.[] | select(.event == "start")][0].pid' "$EVENTS")
[ "$(ps -o pgid= -p "$node_pid" | tr -d ' ')" = "$node_pid" ] || fail "node is not in its own process group"
kill -QUIT "$AGENT_PID"
wait_for "SIGQUIT forwarded" 10 grep -q '"sigquit"' "$EVENTS"
kill -0 "$AGENT_PID" || fail "agent died of SIGQUIT"

kill -INT "$AGENT_PID"
wait_agent_exit 20 "on SIGINT"
[ "$AGENT_RC" -eq 0 ] || fail "exit code $AGENT_RC after SIGINT"
[ "$(events_count event sigterm)" -eq 1 ] || fail "node was not stopped gracefully"
if pgrep -g "$node_pid" >/dev/null; then fail "processes of the node's group are left"; fi
pass
