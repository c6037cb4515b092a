#!/usr/bin/env bash
# run: the node gets its arguments verbatim, its output passes through, SIGTERM stops both.
source "$(dirname "$0")/lib.sh"

init_genesis v1.0.0
start_agent -- --datadir "$DATA" --http.port 0 --block-ms 50 "two words" "" 'q"uote' '$HOME' --flag=x
wait_for "node started" 10 node_started 1
argv=$(jq -c -s '[.[] | select(.event == "start")][0].argv[2:]' "$EVENTS") # after the release's --node-version
want=$(jq -c -n --arg d "$DATA" '["--datadir", $d, "--http.port", "0", "--block-ms", "50", "two words", "", "q\"uote", "$HOME", "--flag=x"]')
[ "$argv" = "$want" ] || fail "argv not passed verbatim: got $argv want $want"
wait_for "node output passed through" 10 agent_log_has "fakenode v1.0.0 started"

node_pid=$(jq -s '[.[] | select(.event == "start")][0].pid' "$EVENTS")
stop_agent
[ "$AGENT_RC" -eq 0 ] || fail "agent exit code $AGENT_RC after SIGTERM"
[ "$(events_count event sigterm)" -eq 1 ] || fail "node did not get SIGTERM"
! kill -0 "$node_pid" 2>/dev/null || fail "node still running after the agent exited"
pass
