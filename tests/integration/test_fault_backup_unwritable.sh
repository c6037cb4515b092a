#!/usr/bin/env bash
# Fault suite, storage: the backup dir cannot be written (its file system is mounted read-only;
# root ignores permission bits, so a mode would prove nothing). The pre-flight before the stop
# refuses: nothing is stopped, the upgrade waits and says why, and goes on by itself once the
# operator remounts the file system read-write. `wemixvisor backup create` with a backup dir
# under a regular file is refused with the path and what to do.
# The operator sees:
#   - log: `the backup dir cannot be written; the node keeps running and the upgrade waits until
#     it can (or UNSAFE_SKIP_BACKUP=true)` with dir=<backup dir> and error="backup dir <dir> is
#     not writable: Read-only file system; remount its file system read-write, or point
#     DAEMON_DATA_BACKUP_DIR at a writable directory";
#   - `wemixvisor status --json`: .state "running", .pending_upgrade.waiting_for
#     "a writable backup dir";
#   - /metrics: wemixvisor_node_up 1 while it waits;
#   - `wemixvisor backup create`: exit 1, "backup dir <file>/backups cannot be created (<file>
#     exists and is not a directory; move it away); point DAEMON_DATA_BACKUP_DIR at a writable
#     directory".
# End state: the node never stopped while it waited; after the remount it ends on v2, consistent,
# the data as it was and one archive in the backup dir. Needs root (mount); skipped otherwise.
source "$(dirname "$0")/lib.sh"
export DAEMON_HEALTH_CHECK_INTERVAL=300ms DAEMON_SHUTDOWN_GRACE=2s

RO="$T/ro"
mkdir -p "$RO"
mount -t tmpfs -o size=8m tmpfs "$RO" 2>/dev/null || skip "cannot mount a tmpfs here (needs root)"
trap 'rc=$?; umount -l "$RO" 2>/dev/null || true; cleanup $rc' EXIT
mkdir -p "$RO/backups"
mount -o remount,ro "$RO" || fail "cannot remount $RO read-only"
export DAEMON_DATA_BACKUP_DIR="$RO/backups"
metrics_port=$(free_port)
export WEMIXVISOR_METRICS_ADDR="127.0.0.1:$metrics_port"
metric_is() { curl -sf -m 2 "http://127.0.0.1:$metrics_port/metrics" | grep -qx -- "$1"; }

init_genesis v1.0.0
install_upgrade v2 v2.0.0
seed_chain_data 200000
start_agent
wait_for "node started" 10 node_started 1
wait_for "RPC answers" 10 rpc_answers
write_upgrade_info '{"name":"v2","height":5}'

wait_for "refused before the stop" 20 agent_log_has "the backup dir cannot be written"
line=$(grep "the backup dir cannot be written" "$AGENT_LOG")
grep -q "dir=$RO/backups" <<<"$line" || fail "the message does not name the dir: $line"
grep -q "Read-only file system; remount its file system read-write" <<<"$line" ||
  fail "the message does not say what to do: $line"
wait_for "status says why" 10 status_is .pending_upgrade.waiting_for "a writable backup dir"
status_is .state running || fail "status: $(status_field -c '{state, pending_upgrade}')"
metric_is 'wemixvisor_node_up 1' || fail "metrics: the node is not up"
h=$(node_height)
wait_for "the node keeps producing" 10 height_at_least $((h + 3))
[ "$(events_count event sigterm)" -eq 0 ] || fail "the node was stopped for an unwritable backup dir"
current_is genesis || fail "current -> $(current_target)"
[ "$(grep -c "the backup dir cannot be written" "$AGENT_LOG")" -eq 1 ] || fail "the refusal is logged more than once"

# a backup dir under a regular file: the CLI names the path and what to do
touch "$T/not-a-dir"
set +e
DAEMON_DATA_BACKUP_DIR="$T/not-a-dir/backups" "$WEMIXVISOR" backup create >"$T/cli.out" 2>&1
code=$?
set -e
[ "$code" -eq 1 ] || fail "backup create under a file exited $code: $(cat "$T/cli.out")"
grep -q "backup dir $T/not-a-dir/backups cannot be created ($T/not-a-dir exists and is not a directory" "$T/cli.out" ||
  fail "backup create under a file: $(cat "$T/cli.out")"

# the operator remounts it read-write: the upgrade goes on by itself
mount -o remount,rw "$RO" || fail "cannot remount $RO read-write"
wait_for "v2 started" 30 started_is 2 v2.0.0
wait_for "applied" 30 journal_has_applied v2
assert_consistent upgrades/v2 v2.0.0
[ "$(find "$RO/backups" -name 'pre-v2-*.tar' | wc -l)" -eq 1 ] || fail "backups: $(ls -A "$RO/backups")"
[ -z "$(find "$RO/backups" -name '*.tmp.*' -o -name '.wemixvisor-probe.*')" ] || fail "temp files: $(ls -A "$RO/backups")"
pass
