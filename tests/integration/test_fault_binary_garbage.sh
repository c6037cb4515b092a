#!/usr/bin/env bash
# Fault: after the agent verified the upgrade's binary and reported the upgrade ready, the file is
# replaced (atomically, by rename) with executable garbage, then with a different node binary that
# would run; the verified binary is put back before the height. The old release stalls at H - 1
# by itself, so the switch height is exact whatever the timing. (The replacement during the stop,
# the backup and the hooks is test_fault_binary_garbage_at_switch.sh.)
#
# What the operator sees:
#   log: "upgrade binary changed after it was verified; it is not switched to: put the verified
#     binary back, or cancel the upgrade and schedule it again to use the new one" (error, with
#     verified_sha256=<verified> and sha256=<the file now>), once per different file; then
#     "upgrade binary is the verified one again; the upgrade goes on".
#   `wemixvisor status --json`: .pending_upgrade.waiting_for "its binary (changed after it was
#     verified)" while the wrong file is there, "ready" again once it is back.
# End state: the old node runs on untouched meanwhile (never stopped, never restarted); v2, the
# verified binary, starts at H - 1; the node is consistent on upgrades/v2 with its data intact.
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
wait_for "v2 ready" 10 status_is .pending_upgrade.waiting_for ready
agent_log_has "upgrade binary verified name=v2 path=$BIN sha256=$SHA" || fail "verification not logged"
pid=$(status_field .pid)

# replace_binary SRC: SRC becomes the upgrade's binary in one rename, as a careless deploy would do.
replace_binary() {
  cp "$1" "$BIN.new"
  chmod 0755 "$BIN.new"
  mv "$BIN.new" "$BIN"
}
changed_said_for() { grep -q "upgrade binary changed after it was verified.*verified_sha256=$SHA sha256=$1" "$AGENT_LOG"; }
waits_for_changed() { status_is .pending_upgrade.waiting_for "its binary (changed after it was verified)"; }

# 1. garbage
head -c 20000 /dev/urandom >"$T/garbage"
replace_binary "$T/garbage"
GARBAGE_SHA=$(sha256sum "$BIN" | cut -d' ' -f1)
wait_for "the garbage reported" 10 changed_said_for "$GARBAGE_SHA"
wait_for "status: waits for its binary" 10 waits_for_changed

# 2. another node binary, one that would run: refused just the same (not the one verified)
make_node "$T/stage/other" v2.0.0-other
replace_binary "$T/stage/other"
OTHER_SHA=$(sha256sum "$BIN" | cut -d' ' -f1)
wait_for "the other binary reported" 10 changed_said_for "$OTHER_SHA"
waits_for_changed || fail "waiting_for $(status_field .pending_upgrade.waiting_for)"
status_is .pid "$pid" || fail "the old node was restarted"
[ "$(events_count event sigterm)" -eq 0 ] || fail "the old node was stopped for a binary that changed"
current_is genesis || fail "current moved to $(current_target)"

# 3. the verified binary is back (before the height, or at it: the old node waits at H - 1)
replace_binary "$T/stage/v2"
wait_for "the return reported" 10 agent_log_has "upgrade binary is the verified one again"
wait_for "v2 started" 30 started_is 2 v2.0.0
[ "$(start_height_of 2)" -eq $((H - 1)) ] || fail "v2 started at $(start_height_of 2), not at $((H - 1))"
[ "$(events_count event start)" -eq 2 ] || fail "starts: $(events_count event start), expected the old node and v2"
past() { [ "$(rpc_height)" -gt "$H" ] 2>/dev/null; }
wait_for "v2 past the upgrade height" 20 past
wait_for "journal: applied" 10 journal_has_applied v2
assert_consistent upgrades/v2 v2.0.0
pass
