#!/usr/bin/env bash
# Too little free space for the backup: the upgrade waits before the node is stopped, with a
# clear message; the node keeps running. Needs root to mount a small tmpfs (skipped otherwise).
source "$(dirname "$0")/lib.sh"
export DAEMON_HEALTH_CHECK_INTERVAL=300ms

mkdir -p "$T/small"
if ! mount -t tmpfs -o size=1m tmpfs "$T/small" 2>/dev/null; then
  echo "SKIP $TEST_NAME: cannot mount a tmpfs here (needs root)"
  exit 77
fi
trap 'rc=$?; umount "$T/small" 2>/dev/null || true; cleanup $rc' EXIT
export DAEMON_DATA_BACKUP_DIR="$T/small/backups"

init_genesis v1.0.0
install_upgrade v2 v2.0.0
mkdir -p "$DATA/chaindata"
head -c 3000000 /dev/urandom >"$DATA/chaindata/big.ldb"
start_agent
wait_for "node started" 10 node_started 1
write_upgrade_info '{"name":"v2","height":5}'
wait_for "space refused" 20 agent_log_has "not enough space for the backup"
h=$(node_height)
wait_for "the node keeps producing" 10 height_at_least $((h + 3))
[ "$(events_count event sigterm)" -eq 0 ] || fail "the node was stopped"
status_is .pending_upgrade.waiting_for "disk space for the backup" ||
  fail "status: $(status_field -c .pending_upgrade)"
# space comes back: the upgrade proceeds
umount "$T/small"
wait_for "v2 started" 30 started_is 2 v2.0.0
pass
