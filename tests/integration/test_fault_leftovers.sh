#!/usr/bin/env bash
# Fault: the agent and its backup worker are killed (SIGKILL, a power cut) in the middle of the
# backup before an upgrade, with the archive's temp file half written; other writers' leftovers lie
# around too (a journal temp, a download dir with a read-only sub-dir, a restored data dir's old
# copy, a symlink switch's temp link), and a `prepare-upgrade` of another upgrade is still
# downloading beside the agent (its temp dir is locked by a live process).
# The operator sees, when the agent starts again:
#   - log: `sweep removed what an interrupted write left behind path=<each leftover>`;
#   - the live writer's temp dir is left alone (no log line for it);
#   - the upgrade resumes from its journaled step (backing-up) and completes.
# End state: consistent on upgrades/v2, the chain data intact, one complete archive, no temporary
# file left (assert_consistent checks the whole home), the live writer's temp dir still there.
# Needs the fault-injection build (the pause point in the backup worker) and flock(1).
source "$(dirname "$0")/lib.sh"
export DAEMON_HEALTH_CHECK_INTERVAL=300ms DAEMON_SHUTDOWN_GRACE=2s DAEMON_BACKUP_COMPRESSION=none
grep -qa WEMIXVISOR_FAULT_PAUSE "$WEMIXVISOR" || skip "needs the fault-injection build (-DWV_FAULT_INJECTION=ON)"
command -v flock >/dev/null || skip "needs flock(1) (util-linux)"
BACKUPS="$DAEMON_HOME/backups"
ROOT="$DAEMON_HOME/wemixvisor"

backup_worker() { pgrep -P "$AGENT_PID" -f -- 'backup create' | head -n 1 || true; }
worker_paused() {
  local pid
  pid=$(backup_worker)
  proc_stopped "$pid"
}
swept() { grep -q "sweep removed what an interrupted write left behind path=$1\$" "$AGENT_LOG"; }

init_genesis v1.0.0 --upgrade-in 4 --upgrade-name v2
install_upgrade v2 v2.0.0
seed_chain_data 3000000

# 1. the backup pauses with its temp half written; then the agent and the worker die together
WEMIXVISOR_FAULT_PAUSE=backup-data start_agent
wait_for "the backup paused mid-write" 30 worker_paused
worker=$(backup_worker)
archive_tmp=$(find "$BACKUPS" -name '*.tmp.*' | head -n 1)
[ -n "$archive_tmp" ] || fail "no archive temp file while the backup runs"
kill -KILL "$AGENT_PID" "$worker"
wait_quiet_exit "$AGENT_PID" 10 || fail "the agent did not die"
wait "$AGENT_PID" 2>/dev/null || true
AGENT_PID=
wait_for "the old node stopped (parent death)" 20 node_count_is 0
[ -f "$archive_tmp" ] || fail "the killed backup left no temp file ($archive_tmp): nothing to prove"

# 2. more leftovers of killed writers, and one live writer
printf '{"partial' >"$ROOT/state.json.tmp.Ab12Cd"
mkdir -p "$ROOT/upgrades/.v3.tmp.Qw34Er/lib"
echo x >"$ROOT/upgrades/.v3.tmp.Qw34Er/lib/libnode.so"
chmod 0500 "$ROOT/upgrades/.v3.tmp.Qw34Er/lib"
mkdir -p "$DAEMON_HOME/data.old.Zx56Cv/chaindata"
echo old >"$DAEMON_HOME/data.old.Zx56Cv/chaindata/000001.ldb"
ln -s upgrades/v2 "$ROOT/current.new.999999999"
live="$ROOT/upgrades/.v4.download.4242.tmp.Lv78Wr"
mkdir -p "$live"
# the live writer: a process that holds the lock until the test ends it (stop_holder), not a wait
flock "$live" sleep 600 </dev/null >/dev/null 2>&1 &
holder=$!
# flock(1) runs sleep as its child: both go, or the sleep would keep the test's output open
stop_holder() {
  pkill -P "$holder" 2>/dev/null || true
  kill "$holder" 2>/dev/null || true
  wait "$holder" 2>/dev/null || true
}
trap 'rc=$?; stop_holder; cleanup $rc' EXIT
wait_for "the live writer holds its lock" 10 bash -c "! flock -n '$live' true"

# 3. the agent starts again: it sweeps, resumes the backup and upgrades
mv "$AGENT_LOG" "$AGENT_LOG.1"
start_agent
for p in "$archive_tmp" "$ROOT/state.json.tmp.Ab12Cd" "$ROOT/upgrades/.v3.tmp.Qw34Er" \
  "$DAEMON_HOME/data.old.Zx56Cv" "$ROOT/current.new.999999999"; do
  wait_for "swept $p" 20 swept "$p"
  [ ! -e "$p" ] && [ ! -L "$p" ] || fail "$p is still there"
done
[ -d "$live" ] || fail "the live writer's temp dir was removed"
agent_log_has "path=$live" && fail "the sweep logged the live writer's temp dir"
wait_for "v2 started" 40 started_is 2 v2.0.0
wait_for "applied" 30 journal_has_applied v2
stop_holder
rm -rf "$live" # the live writer's, not the agent's: its owner would rename or remove it
assert_consistent upgrades/v2 v2.0.0
[ "$(find "$BACKUPS" -name 'pre-v2-*.tar' | wc -l)" -eq 1 ] || fail "backups: $(ls -A "$BACKUPS")"
"$WEMIXVISOR" backup verify "$(find "$BACKUPS" -name 'pre-v2-*.tar')" >/dev/null || fail "the archive does not verify"
pass
