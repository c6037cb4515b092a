#!/usr/bin/env bash
# Fault: the upgrade's binary is deleted after the agent verified it and reported the upgrade
# ready, and the height is reached without it. (A binary missing from the start is
# test_missing_binary.sh.) The old release stalls at H - 1 by itself, as old binaries do at a
# fork, so every height here is exact whatever the timing.
#
# What the operator sees:
#   log: "upgrade binary verified ... sha256=<S>" at ready (and state.json .step.sha256 = S);
#     "upgrade binary was removed after it was verified; nothing is switched until the verified
#     binary is back at this path" (error, with path= and verified_sha256=); once the old node
#     is gone at the height, "the node is held: its upgrade is due and the upgrade binary is not
#     usable, and the old binary is not started past its upgrade height. Put the binary in place
#     and the upgrade goes on by itself"; then "upgrade binary is the verified one again".
#   `wemixvisor status --json`: .pending_upgrade.waiting_for "its binary (removed after it was
#     verified)"; .state "stopped" while held.
#   `wemixvisor start` while held: refused, "... is due and its binary is not usable (removed
#     after it was verified) ...".
# End state: nothing switched while the binary is gone (the old node runs on to H - 1, untouched;
# once it dies it is not started again); with the verified binary back, v2 starts at H - 1 and the
# node is consistent on upgrades/v2 with its data intact.
source "$(dirname "$0")/lib.sh"
export DAEMON_HEALTH_CHECK_INTERVAL=500ms DAEMON_SHUTDOWN_GRACE=2s

H=150
BIN="$DAEMON_HOME/wemixvisor/upgrades/v2/bin/$DAEMON_NAME"
init_genesis v1.0.0 --stop-at $((H - 1))
install_upgrade v2 v2.0.0
SHA=$(sha256sum "$BIN" | cut -d' ' -f1)
seed_chain_data 100000
start_agent -- --datadir "$DATA" --http.port "$RPC_PORT" --block-ms 40
wait_for "RPC answers" 10 rpc_answers
schedule_staged v2 "$H"

# ready: the agent has hashed the binary it will switch to
journal_step_is() { jq -e --arg s "$1" '.step.step == $s' "$DAEMON_HOME/wemixvisor/state.json" >/dev/null 2>&1; }
wait_for "v2 ready" 10 journal_step_is ready
jq -e --arg s "$SHA" '.step.sha256 == $s' "$DAEMON_HOME/wemixvisor/state.json" >/dev/null ||
  fail "journal: $(jq -c .step "$DAEMON_HOME/wemixvisor/state.json"), expected sha256 $SHA"
agent_log_has "upgrade binary verified name=v2 path=$BIN sha256=$SHA" || fail "verification not logged"
pid=$(status_field .pid)

rm "$BIN"
wait_for "the removal reported" 10 agent_log_has "upgrade binary was removed after it was verified"
agent_log_has "verified_sha256=$SHA" || fail "the log does not give the verified sha256"
wait_for "status: waits for its binary" 10 \
  status_is .pending_upgrade.waiting_for "its binary (removed after it was verified)"

# the height is reached without it: nothing is stopped or switched, the old node is left as it is
wait_for "the old node at H - 1" 30 height_at_least $((H - 1))
wait_for "the agent sees H - 1" 10 status_is .height $((H - 1))
status_is .pid "$pid" || fail "the old node was restarted"
[ "$(events_count event sigterm)" -eq 0 ] || fail "the node was stopped without a binary to switch to"
current_is genesis || fail "current moved to $(current_target)"

# the old node dies at the height: it is held, not started again past its upgrade height
kill -KILL "$pid"
wait_for "the node held" 10 agent_log_has "the node is held: its upgrade is due"
wait_for "status: stopped" 10 status_is .state stopped
status_is .pending_upgrade.waiting_for "its binary (removed after it was verified)" ||
  fail "held: waiting_for $(status_field .pending_upgrade.waiting_for)"
if "$WEMIXVISOR" start >"$T/start.out" 2>&1; then fail "start was accepted: $(cat "$T/start.out")"; fi
grep -q "is due and its binary is not usable (removed after it was verified)" "$T/start.out" ||
  fail "start refused without the reason: $(cat "$T/start.out")"
[ "$(events_count event start)" -eq 1 ] || fail "the old binary was started again past its height"
current_is genesis || fail "current moved to $(current_target)"

# the verified binary is back: the upgrade completes at H - 1
install_upgrade v2 v2.0.0
wait_for "v2 started" 30 started_is 2 v2.0.0
agent_log_has "upgrade binary is the verified one again" || fail "the return not logged"
[ "$(start_height_of 2)" -eq $((H - 1)) ] || fail "v2 started at $(start_height_of 2), not at $((H - 1))"
past() { [ "$(rpc_height)" -gt "$H" ] 2>/dev/null; }
wait_for "v2 past the upgrade height" 20 past
wait_for "journal: applied" 10 journal_has_applied v2
assert_consistent upgrades/v2 v2.0.0
pass
