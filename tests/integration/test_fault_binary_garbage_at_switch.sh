#!/usr/bin/env bash
# Fault: the upgrade's binary is replaced with a different file after the old node was stopped at
# the height and the data backed up, right before the switch: a pre-upgrade hook
# (COSMOVISOR_CUSTOM_PREUPGRADE, which runs after the stop and the backup) swaps it, once. The old
# release stalls at H - 1 by itself, so the heights are exact whatever the timing.
#
# What the operator sees:
#   log: "upgrade binary changed after it was verified; it is not switched to: put the verified
#     binary back, or cancel the upgrade and schedule it again to use the new one" (error, with
#     verified_sha256=, sha256= and node="held stopped: the old binary is not started past its
#     upgrade height"); "the node is held: its upgrade is due and the upgrade binary is not
#     usable, ..."; then "upgrade binary is the verified one again; the upgrade goes on".
#   `wemixvisor status --json`: .state "stopped", .pending_upgrade.waiting_for "its binary
#     (changed after it was verified)"; state.json .step.step "ready" (nothing switched).
#   `wemixvisor start`: refused, "... is due and its binary is not usable (changed after it was
#     verified) ...".
# End state: nothing is switched to the swapped file and the old binary is not started again past
# H - 1; with the verified binary back the backup and the hooks run again, v2 starts at H - 1, and
# the node is consistent on upgrades/v2 with its data intact.
source "$(dirname "$0")/lib.sh"
export DAEMON_HEALTH_CHECK_INTERVAL=500ms DAEMON_SHUTDOWN_GRACE=2s

H=60
BIN="$DAEMON_HOME/wemixvisor/upgrades/v2/bin/$DAEMON_NAME"
make_node "$T/stage/other" v2.0.0-other
cat >"$T/swap.sh" <<EOF
#!/bin/sh
# swaps the upgrade's binary for another one, the first time it runs
echo "\$UPGRADE_NAME" >>"$T/hook.runs"
[ -e "$T/swapped" ] && exit 0
cp "$T/stage/other" "\$DAEMON_HOME/wemixvisor/upgrades/\$UPGRADE_NAME/bin/\$DAEMON_NAME.new"
mv "\$DAEMON_HOME/wemixvisor/upgrades/\$UPGRADE_NAME/bin/\$DAEMON_NAME.new" \
  "\$DAEMON_HOME/wemixvisor/upgrades/\$UPGRADE_NAME/bin/\$DAEMON_NAME"
touch "$T/swapped"
EOF
chmod +x "$T/swap.sh"
export COSMOVISOR_CUSTOM_PREUPGRADE="$T/swap.sh"

init_genesis v1.0.0 --stop-at $((H - 1))
install_upgrade v2 v2.0.0
SHA=$(sha256sum "$BIN" | cut -d' ' -f1)
OTHER_SHA=$(sha256sum "$T/stage/other" | cut -d' ' -f1)
seed_chain_data 100000
start_agent -- --datadir "$DATA" --http.port "$RPC_PORT" --block-ms 40
wait_for "RPC answers" 10 rpc_answers
schedule_staged v2 "$H"

# at H - 1: stop, backup, the hook swaps the binary; the switch refuses it
wait_for "the hook swapped the binary" 30 test -e "$T/swapped"
changed_said() {
  grep -q "upgrade binary changed after it was verified.*verified_sha256=$SHA sha256=$OTHER_SHA node=\"held stopped" "$AGENT_LOG"
}
wait_for "the swap reported" 10 changed_said
wait_for "status: waits for its binary" 10 \
  status_is .pending_upgrade.waiting_for "its binary (changed after it was verified)"
wait_for "the node held" 10 agent_log_has "the node is held: its upgrade is due"
status_is .state stopped || fail "state $(status_field .state)"
node_count_is 0 || fail "a node runs: $(node_pids)"
current_is genesis || fail "current moved to $(current_target)"
jq -e '.step.step == "ready"' "$DAEMON_HOME/wemixvisor/state.json" >/dev/null ||
  fail "journal: $(jq -c .step "$DAEMON_HOME/wemixvisor/state.json")"
[ "$(events_count event start)" -eq 1 ] || fail "a node was started: $(started_version 2)"
[ "$(node_height)" -eq $((H - 1)) ] || fail "height $(node_height), expected $((H - 1))"
if "$WEMIXVISOR" start >"$T/start.out" 2>&1; then fail "start was accepted: $(cat "$T/start.out")"; fi
grep -q "is due and its binary is not usable (changed after it was verified)" "$T/start.out" ||
  fail "start refused without the reason: $(cat "$T/start.out")"

# the verified binary is back: backup and hooks again, then the switch
cp "$T/stage/v2" "$BIN.new"
mv "$BIN.new" "$BIN"
wait_for "v2 started" 30 started_is 2 v2.0.0
agent_log_has "upgrade binary is the verified one again" || fail "the return not logged"
[ "$(start_height_of 2)" -eq $((H - 1)) ] || fail "v2 started at $(start_height_of 2), not at $((H - 1))"
[ "$(wc -l <"$T/hook.runs")" -eq 2 ] || fail "the hook ran $(wc -l <"$T/hook.runs") times, expected 2"
past() { [ "$(rpc_height)" -gt "$H" ] 2>/dev/null; }
wait_for "v2 past the upgrade height" 20 past
wait_for "journal: applied" 10 journal_has_applied v2
assert_consistent upgrades/v2 v2.0.0
pass
