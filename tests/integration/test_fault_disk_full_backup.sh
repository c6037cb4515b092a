#!/usr/bin/env bash
# Fault suite, storage: the backup dir's disk fills up DURING the backup before an upgrade (the
# check before the stop passed; test_disk_space.sh covers its refusal). The backup dir is a 4 MiB
# tmpfs, the data 2 MB. The backup worker (`wemixvisor backup create`) stops itself once its temp
# file holds data (the test build's pause point `backup-data`, so the test does not race a 2 MB
# write), the test fills the tmpfs to the last byte and lets it go on (SIGCONT).
# The operator sees:
#   - log: the backup's own line `cannot write <archive>: No space left on device; free space in
#     <backup dir>`, then the agent's `the backup failed: the backup dir is full or not
#     writable; nothing was changed. The node is left STOPPED (...)` with
#     waiting_for="disk space for the backup";
#   - `wemixvisor status --json`: .state "stopped", .pending_upgrade.waiting_for
#     "disk space for the backup";
#   - /metrics: wemixvisor_node_up 0, wemixvisor_node_state{state="stopped"} 1.
# End state: nothing switched, no archive and no temp file in the backup dir, the data as it was,
# the old binary never started again (the node is at the upgrade height); once the operator frees
# the space the upgrade goes on by itself and ends on v2, consistent, with one complete archive.
# Needs root (mount) and the fault-injection build; skipped otherwise.
source "$(dirname "$0")/lib.sh"
export DAEMON_HEALTH_CHECK_INTERVAL=300ms DAEMON_SHUTDOWN_GRACE=2s
grep -qa WEMIXVISOR_FAULT_PAUSE "$WEMIXVISOR" || skip "needs the fault-injection build (-DWV_FAULT_INJECTION=ON)"

SMALL="$T/small"
mkdir -p "$SMALL"
mount -t tmpfs -o size=4m tmpfs "$SMALL" 2>/dev/null || skip "cannot mount a tmpfs here (needs root)"
trap 'rc=$?; umount -l "$SMALL" 2>/dev/null || true; cleanup $rc' EXIT
export DAEMON_DATA_BACKUP_DIR="$SMALL/backups" DAEMON_BACKUP_COMPRESSION=none
export WEMIXVISOR_FAULT_PAUSE=backup-data
metrics_port=$(free_port)
export WEMIXVISOR_METRICS_ADDR="127.0.0.1:$metrics_port"
metrics() { curl -sf -m 2 "http://127.0.0.1:$metrics_port/metrics"; }
metric_is() { metrics | grep -qx -- "$1"; }

# backup_worker: pid of the agent's running `backup create` child ("" if none).
backup_worker() { pgrep -P "$AGENT_PID" -f -- 'backup create' | head -n 1 || true; }
# worker_paused: the backup worker has stopped itself at its pause point.
worker_paused() {
  local pid
  pid=$(backup_worker)
  proc_stopped "$pid"
}
backup_temps() { find "$SMALL/backups" -name '*.tmp.*' 2>/dev/null; }
has_backup_temp() { [ -n "$(backup_temps)" ]; }
no_backup_temp() { [ -z "$(backup_temps)" ]; }

# the node asks for v2 four blocks in, and stalls there (at the height the old binary must stop)
init_genesis v1.0.0 --upgrade-in 4 --upgrade-name v2
install_upgrade v2 v2.0.0
seed_chain_data 2000000
start_agent

wait_for "the backup paused with its temp file written" 30 worker_paused
has_backup_temp || fail "no temp file in the backup dir while the backup runs"
head -c 8M /dev/zero >"$SMALL/filler" 2>/dev/null || true # until ENOSPC: the disk is full
[ "$(df --output=avail -B1 "$SMALL" | tail -n 1)" -lt 65536 ] || fail "the tmpfs is not full"
kill -CONT "$(backup_worker)"

wait_for "the backup failed for lack of room" 20 agent_log_has "the backup failed: the backup dir is full"
grep "backup output" "$AGENT_LOG" | grep -q "No space left on device; free space in $SMALL/backups" ||
  fail "the backup's error does not name ENOSPC and the dir"
grep "the backup failed: the backup dir is full" "$AGENT_LOG" | grep -q 'left STOPPED.*waiting_for="disk space for the backup"' ||
  fail "the log does not say the node is left stopped"
wait_for "status says why" 10 status_is .pending_upgrade.waiting_for "disk space for the backup"
status_is .state stopped || fail "status: $(status_field -c '{state, pending_upgrade}')"
wait_for "metrics: node down" 10 metric_is 'wemixvisor_node_up 0'
metric_is 'wemixvisor_node_state{state="stopped"} 1' || fail "metrics: $(metrics | grep node_state)"
wait_for "no partial archive" 10 no_backup_temp
[ -z "$(ls -A "$SMALL/backups")" ] || fail "the backup dir holds: $(ls -A "$SMALL/backups")"
current_is genesis || fail "current -> $(current_target) after a failed backup"
node_count_is 0 || fail "a node runs while the upgrade waits for space"
[ "$(events_count event start)" -eq 1 ] || fail "the old binary was started again at the upgrade height"
journal_has_failed v2 && fail "a full disk recorded the upgrade as failed"
data_hashes | diff -u "$T/data.snapshot" - >/dev/null || fail "the data changed"

# the operator frees the space: the upgrade goes on (its new backup pauses too: let it go on)
rm -f "$SMALL/filler"
wait_for "the second backup paused" 30 worker_paused
kill -CONT "$(backup_worker)"
wait_for "v2 started" 30 started_is 2 v2.0.0
wait_for "applied" 30 journal_has_applied v2
assert_consistent upgrades/v2 v2.0.0
no_backup_temp || fail "temp files in the backup dir: $(backup_temps)"
[ "$(find "$SMALL/backups" -name 'pre-v2-*.tar' | wc -l)" -eq 1 ] || fail "backups: $(ls -A "$SMALL/backups")"
"$WEMIXVISOR" backup verify "$(find "$SMALL/backups" -name 'pre-v2-*.tar')" >/dev/null || fail "the archive does not verify"
pass
