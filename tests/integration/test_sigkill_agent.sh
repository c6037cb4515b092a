#!/usr/bin/env bash
# An agent killed with SIGKILL: its node is told to stop (parent-death signal), and a new agent
# never runs a second node beside one left behind. A second agent beside a live one is refused.
source "$(dirname "$0")/lib.sh"
export DAEMON_SHUTDOWN_GRACE=300ms

init_genesis v1.0.0
start_agent
wait_for "node started" 10 node_started 1
set +e
out=$("$WEMIXVISOR" run --datadir "$DATA" --http.port 0 2>&1)
rc=$?
set -e
[ "$rc" -eq 1 ] && grep -q "another wemixvisor agent (pid $AGENT_PID) already runs" <<<"$out" ||
  fail "second agent: $rc $out"

kill -KILL "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null || true
AGENT_PID=
wait_for "orphaned node stopped by the parent-death signal" 10 node_count_is 0
[ "$(events_count event sigterm)" -eq 1 ] || fail "the node did not get SIGTERM when its agent died"

# a node that ignores SIGTERM survives its agent; the next agent stops it before its own start
install_upgrade v2 v2.0.0 --ignore-sigterm --ignore-sigquit
write_upgrade_info '{"name":"v2","height":10}'
start_agent
wait_for "v2 started" 20 started_is 2 v2.0.0
kill -KILL "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null || true
AGENT_PID=
node_count_is 1 || fail "the stubborn node should still run"
start_agent
wait_for "new node started" 30 node_started 3
agent_log_has "a node left by an earlier agent is still running" || fail "orphan not reported"
node_count_is 1 || fail "two nodes on one data dir: $(node_pids)"
pass
