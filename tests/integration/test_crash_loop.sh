#!/usr/bin/env bash
# A node that crashes at every start is restarted with a growing backoff (1 s, 2 s from one start
# to the next), then given up as failed after DAEMON_MAX_RESTARTS; the agent stays up and says
# so, and `wemixvisor start` tries again.
source "$(dirname "$0")/lib.sh"
export DAEMON_MAX_RESTARTS=2

init_genesis v1.0.0 --crash-after 100
start_agent
wait_for "failed" 20 status_is .state failed
[ "$(events_count event start)" -eq 3 ] || fail "expected 3 starts, got $(events_count event start)"
starts=($(jq -s '[.[] | select(.event == "start") | .t_ns] | .[]' "$EVENTS"))
# measured by the node after its exec, while the backoff runs from the agent's spawn: a slow exec
# (a loaded machine) shifts either end by tens of ms; 200 ms still tells 1 s from 2 s
gap1=$(((starts[1] - starts[0]) / 1000000 + 200))
gap2=$(((starts[2] - starts[1]) / 1000000 + 200))
[ "$gap1" -ge 1000 ] || fail "second start ${gap1} ms after the first; the backoff starts at 1 s"
[ "$gap2" -ge 2000 ] || fail "third start ${gap2} ms after the second; the backoff doubles"
status_is .restarts 2 || fail "restarts: $(status_field .restarts)"
status_is .last_exit.code 3 || fail "last_exit: $(status_field -c .last_exit)"
status_is .pid null || fail "a failed node has a pid"
agent_log_has "node failed: restarts exhausted" || fail "failed not logged"
kill -0 "$AGENT_PID" || fail "the agent gave up too"
"$WEMIXVISOR" status | grep -q "^state *failed" || fail "status table: $("$WEMIXVISOR" status)"

# told to start again: a fresh count
"$WEMIXVISOR" start >/dev/null || fail "start failed"
wait_for "a fourth start" 10 node_started 4
pass
