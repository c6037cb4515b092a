#!/usr/bin/env bash
# No figure for the size of data/ at the height, and no room for the backup: the agent does not
# wait for the measurement (the old node must stop at height - 1), so it is the backup that finds
# there is no room, before it writes a byte (`wemixvisor backup create` exits 4). The backup dir
# is a 1 MiB tmpfs, the data 2 MB; the test build's pause point `backup-size` keeps every
# measurement from finishing. The operator sees what test_fault_disk_full_backup shows:
#   - log: the backup's own `not enough space for a backup of <data>: it needs … free space in
#     <dir>`, then `the backup failed: the backup dir is full or not writable; nothing was
#     changed. The node is left STOPPED (...)` with waiting_for="disk space for the backup";
#   - `wemixvisor status --json`: .state "stopped", .pending_upgrade.waiting_for "disk space for
#     the backup".
# End state: the node stopped at height - 1 and held (the old binary is not started again), no
# archive, nothing switched; once the operator gives the backup dir more room the upgrade goes on
# by itself (without waiting for a measurement: the node is down) and ends on v2, consistent.
# Needs root (mount) and the fault-injection build; skipped otherwise.
source "$(dirname "$0")/lib.sh"
export DAEMON_HEALTH_CHECK_INTERVAL=500ms DAEMON_SHUTDOWN_GRACE=2s
grep -qa WEMIXVISOR_FAULT_PAUSE "$WEMIXVISOR" || skip "needs the fault-injection build (-DWV_FAULT_INJECTION=ON)"

SMALL="$T/small"
mkdir -p "$SMALL"
mount -t tmpfs -o size=1m tmpfs "$SMALL" 2>/dev/null || skip "cannot mount a tmpfs here (needs root)"
trap 'rc=$?; umount -l "$SMALL" 2>/dev/null || true; cleanup $rc' EXIT
export DAEMON_DATA_BACKUP_DIR="$SMALL/backups" DAEMON_BACKUP_COMPRESSION=none
export WEMIXVISOR_FAULT_PAUSE=backup-size

size_worker() { pgrep -P "$AGENT_PID" -f -- 'backup size' | head -n 1 || true; }
size_worker_paused() {
  local pid
  pid=$(size_worker)
  proc_stopped "$pid"
}

H=40
init_genesis v1.0.0 --stop-at $((H - 1))
make_node "$T/stage/v2" v2.0.0
seed_chain_data 2000000
start_agent -- --datadir "$DATA" --http.port "$RPC_PORT" --block-ms 100
wait_for "RPC answers" 10 rpc_answers
schedule_staged v2 "$H"
wait_for "the measurement started (and paused)" 20 size_worker_paused

wait_for "the backup found no room" 60 agent_log_has "the backup failed: the backup dir is full"
[ "$(events_count event sigterm)" -eq 1 ] || fail "the old node was not stopped"
[ "$(node_height)" -eq $((H - 1)) ] || fail "the old node was stopped at $(node_height), not at $((H - 1))"
grep "backup output" "$AGENT_LOG" | grep -q "not enough space for a backup of $DATA" ||
  fail "the backup did not say it has no room"
grep "the backup failed: the backup dir is full" "$AGENT_LOG" | grep -q 'left STOPPED.*waiting_for="disk space for the backup"' ||
  fail "the log does not say the node is left stopped"
wait_for "status says why" 10 status_is .pending_upgrade.waiting_for "disk space for the backup"
status_is .state stopped || fail "status: $(status_field -c '{state, pending_upgrade}')"
[ -z "$(ls -A "$SMALL/backups" 2>/dev/null)" ] || fail "the backup dir holds: $(ls -A "$SMALL/backups")"
current_is genesis || fail "current -> $(current_target)"
node_count_is 0 || fail "a node runs while the upgrade waits for space"
[ "$(events_count event start)" -eq 1 ] || fail "the old binary was started again at the upgrade height"
journal_has_failed v2 && fail "no room recorded the upgrade as failed"

# the operator gives the backup dir room: the upgrade goes on by itself
umount -l "$SMALL"
wait_for "v2 started" 30 started_is 2 v2.0.0
wait_for "applied" 30 journal_has_applied v2
assert_consistent upgrades/v2 v2.0.0
[ "$(find "$SMALL/backups" -name 'pre-v2-*.tar' | wc -l)" -eq 1 ] || fail "backups: $(ls -A "$SMALL/backups")"
pass
