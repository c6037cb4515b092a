#!/usr/bin/env bash
# An upgrade scheduled at a height: the agent reads the height over JSON-RPC, stops the old node
# at height - 1, backs up the data, switches, and the new node produces the upgrade block.
# The old release stalls at height - 1 by itself (as old binaries without the fork do), so the
# stop height is exact whatever the timing of this machine.
source "$(dirname "$0")/lib.sh"
export DAEMON_HEALTH_CHECK_INTERVAL=500ms

H=30
init_genesis v1.0.0 --stop-at $((H - 1))
make_node "$T/stage/v2" v2.0.0
start_agent -- --datadir "$DATA" --http.port "$RPC_PORT" --block-ms 100
wait_for "RPC answers" 10 rpc_answers
schedule_staged v2 "$H"
[ -f "$DATA/upgrades/$H/upgrade-info.json" ] || fail "no schedule file"
"$WEMIXVISOR" upgrade list --json | jq -e --argjson h "$H" '.[0].name == "v2" and .[0].height == $h' >/dev/null ||
  fail "list: $("$WEMIXVISOR" upgrade list --json)"
wait_for "v2 started" 30 started_is 2 v2.0.0
[ "$(start_height_of 2)" -eq $((H - 1)) ] || fail "old node stopped at $(start_height_of 2), not at $((H - 1))"
past() { [ "$(rpc_height)" -gt "$H" ] 2>/dev/null; }
wait_for "v2 past the upgrade height" 20 past
wait_for "journal: applied" 10 journal_has_applied v2
jq -e '.step == null' "$DAEMON_HOME/wemixvisor/state.json" >/dev/null || fail "step left in the journal"
# the backup: 0700 dir, 0600 archive with its checksum
[ "$(stat -c %a "$DAEMON_HOME/backups")" = 700 ] || fail "backup dir mode"
archive=$(ls "$DAEMON_HOME"/backups/pre-v2-*.tar* | grep -v sha256 | head -1)
[ -n "$archive" ] || fail "no backup archive"
[ "$(stat -c %a "$archive")" = 600 ] || fail "archive mode"
(cd "$DAEMON_HOME/backups" && sha256sum -c --quiet "$(basename "$archive").sha256") || fail "checksum"
"$WEMIXVISOR" backup verify "$archive" >/dev/null || fail "backup verify"
agent_log_has "upgrade done" || fail "not logged as done"
pass
