#!/usr/bin/env bash
# Fault: the node's JSON-RPC answers garbage, then a JSON-RPC error object, then hangs, while an
# upgrade at height H is pending. The node itself runs on behind the broken RPC and reaches H - 1
# (where it stalls, as old releases do at a fork). The agent cannot read the height, so it must not
# guess it: no switch until the RPC answers again, then the upgrade at exactly H - 1.
#
# What the operator sees, for each fault:
#   `wemixvisor status --json`: .rpc_error names the address, eth_blockNumber and the fault
#     ("reply is not JSON (...): not json at all", "error -32000: fake failure",
#     "timed out after 2000 ms"); .health "unresponsive"; .height stays the last height read (never
#     0, never the garbage); .pending_upgrade {name v2, height H}; the control socket answers
#     while the RPC hangs (the probe runs off the agent's loop).
#   /metrics: wemixvisor_node_health{health="unresponsive"} 1, wemixvisor_node_height = the last
#     height read.
#   log: "node health from=healthy to=unresponsive ... error=node RPC ..." (a warning), then
#     "node RPC still failing ... error=..." each time the fault changes.
# Health supervision: an unresponsive node is reported, never restarted for it (docs/operator.md,
# Health): same pid, no SIGTERM, no restart through all three faults.
# End state: v2 started at H - 1 once the RPC is back, and the node is consistent on upgrades/v2
# with its data intact.
source "$(dirname "$0")/lib.sh"
export DAEMON_HEALTH_CHECK_INTERVAL=500ms DAEMON_SHUTDOWN_GRACE=2s
METRICS_PORT=$(free_port)
export WEMIXVISOR_METRICS_ADDR="127.0.0.1:$METRICS_PORT"
STATUS_DEADLINE=1.5 # well under the probe's 2 s RPC time-out: a loop blocked on the RPC misses it

# rpc_mode MODE: the running node's RPC answers as MODE (ok, error, garbage, hang) from now on.
rpc_mode() {
  printf '%s\n' "$1" >"$DATA/.rpc-mode.tmp"
  mv "$DATA/.rpc-mode.tmp" "$DATA/fakenode.rpc-mode"
}
rpc_error_has() { [[ "$(status_field .rpc_error)" == *"$1"* ]]; }
metric() { curl -sf -m 2 "http://$WEMIXVISOR_METRICS_ADDR/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }

# not_switched WHEN: nothing of the upgrade has happened: the old node runs, untouched.
not_switched() {
  current_is genesis || fail "$1: current moved to $(current_target)"
  [ "$(events_count event sigterm)" -eq 0 ] || fail "$1: the node was stopped"
  [ "$(events_count event start)" -eq 1 ] || fail "$1: the node was restarted"
  status_is .pid "$pid" || fail "$1: the node's pid changed to $(status_field .pid)"
  status_is .restarts_total 0 || fail "$1: restarts $(status_field .restarts_total)"
  status_is .pending_upgrade.name v2 || fail "$1: pending $(status_field .pending_upgrade)"
}
# height_kept WHEN: status and metrics still give the last height read, not 0 and not garbage.
height_kept() {
  status_is .height "$h_seen" || fail "$1: status height $(status_field .height), read before: $h_seen"
  [ "$(metric wemixvisor_node_height)" = "$h_seen" ] ||
    fail "$1: wemixvisor_node_height $(metric wemixvisor_node_height), read before: $h_seen"
  [ "$(metric 'wemixvisor_node_health{health="unresponsive"}')" = 1 ] ||
    fail "$1: metrics do not say unresponsive"
}

H=150
init_genesis v1.0.0 --stop-at $((H - 1))
make_node "$T/stage/v2" v2.0.0
seed_chain_data 100000
start_agent -- --datadir "$DATA" --http.port "$RPC_PORT" --block-ms 30
wait_for "healthy" 20 status_is .health healthy
pid=$(status_field .pid)

# 1. garbage: the agent keeps the height it read last
rpc_mode garbage
wait_for "the garbage reported" 10 rpc_error_has "eth_blockNumber: reply is not JSON"
rpc_error_has "127.0.0.1:$RPC_PORT" || fail "rpc_error does not name the address: $(status_field .rpc_error)"
wait_for "unresponsive" 10 status_is .health unresponsive
agent_log_has "node health from=healthy to=unresponsive" || fail "unresponsive not logged"
h_seen=$(status_field .height)
if [ "$h_seen" -le 0 ] || [ "$h_seen" -ge $((H - 1)) ]; then fail "height read before the fault: $h_seen"; fi
# the upgrade is scheduled while the RPC is broken (the CLI falls back to the journal's height)
schedule_staged v2 "$H"
wait_for "v2 pending" 10 status_is .pending_upgrade.height "$H"
wait_for "the node at H - 1 behind the broken RPC" 30 height_at_least $((H - 1))
not_switched garbage
height_kept garbage

# 2. an error object: an error whatever its code, never a height
rpc_mode error
wait_for "the error object reported" 10 rpc_error_has "eth_blockNumber: error -32000: fake failure"
wait_for "the new fault logged" 10 agent_log_has "node RPC still failing health=unresponsive height=$h_seen error=\"node RPC 127.0.0.1:$RPC_PORT, eth_blockNumber: error -32000: fake failure\""
status_is .health unresponsive || fail "error: health $(status_field .health)"
not_switched error
height_kept error

# 3. a hang: the probe times out off the loop; the control socket answers meanwhile
rpc_mode hang
wait_for "the hang reported" 15 rpc_error_has "eth_blockNumber: timed out after 2000 ms"
wait_for "the new fault logged" 10 agent_log_has "node RPC still failing.*eth_blockNumber: timed out after 2000 ms"
for i in 1 2 3 4 5; do
  timeout "$STATUS_DEADLINE" "$WEMIXVISOR" status --json >"$T/status.json" 2>&1 ||
    fail "status did not answer within ${STATUS_DEADLINE}s while the RPC hangs (call $i)"
  jq -e '.health == "unresponsive"' "$T/status.json" >/dev/null || fail "hang: $(cat "$T/status.json")"
done
"$WEMIXVISOR" status | grep -q "^rpc error  node RPC 127.0.0.1:$RPC_PORT" || fail "status table: no rpc error line"
not_switched hang
height_kept hang
[ "$(node_height)" -eq $((H - 1)) ] || fail "the old node went to $(node_height), past H - 1"

# 4. the RPC comes back: the agent reads H - 1 and upgrades there
rm -f "$DATA/fakenode.rpc-mode"
wait_for "v2 started" 30 started_is 2 v2.0.0
[ "$(start_height_of 2)" -eq $((H - 1)) ] || fail "v2 started at $(start_height_of 2), not at $((H - 1))"
past() { [ "$(rpc_height)" -gt "$H" ] 2>/dev/null; }
wait_for "v2 past the upgrade height" 20 past
wait_for "journal: applied" 10 journal_has_applied v2
wait_for "the RPC error cleared" 10 status_is .rpc_error ""
assert_consistent upgrades/v2 v2.0.0
pass
