#!/usr/bin/env bash
# The backup's check before an upgrade stops the node needs the size of data/, which on a real
# chain takes minutes to walk: the agent measures it off its loop (a `wemixvisor backup size`
# child, from the time the upgrade is ready) and checks the last figure against the free space.
# The test build's pause point `backup-size` makes every measurement stop itself (SIGSTOP), so
# none finishes until the test lets it go on (SIGCONT). The operator sees:
#   - `wemixvisor status` answers while the measurement runs (the control socket is on the loop);
#   - at the height, without a figure, the node is stopped at height - 1 all the same, with the
#     log line `the size of the data dir is not known yet; the upgrade goes on and the backup
#     checks the space itself` (why="the upgrade height is reached"); the backup checks
#     the room itself and the upgrade completes; the stuck measurement is ended;
#   - once a measurement finishes, `status --json` shows it: .pending_upgrade.data_bytes and
#     .data_measured_s_ago.
# Needs the fault-injection build; skipped otherwise.
source "$(dirname "$0")/lib.sh"
export DAEMON_HEALTH_CHECK_INTERVAL=500ms
grep -qa WEMIXVISOR_FAULT_PAUSE "$WEMIXVISOR" || skip "needs the fault-injection build (-DWV_FAULT_INJECTION=ON)"
export WEMIXVISOR_FAULT_PAUSE=backup-size

# size_worker: pid of the agent's running `backup size` child ("" if none).
size_worker() { pgrep -P "$AGENT_PID" -f -- 'backup size' | head -n 1 || true; }
size_worker_paused() {
  local pid
  pid=$(size_worker)
  proc_stopped "$pid"
}
no_size_worker() { [ -z "$(size_worker)" ]; }
data_bytes_known() { [ "$(status_field .pending_upgrade.data_bytes)" -ge 200000 ] 2>/dev/null; }

H=40
# the old release stalls at height - 1 by itself: a stop that waited would never come
init_genesis v1.0.0 --stop-at $((H - 1))
make_node "$T/stage/v2" v2.0.0
seed_chain_data 200000
start_agent -- --datadir "$DATA" --http.port "$RPC_PORT" --block-ms 100
wait_for "RPC answers" 10 rpc_answers
schedule_staged v2 "$H"

wait_for "the measurement started (and paused)" 20 size_worker_paused
for _ in 1 2 3; do
  status_is .pending_upgrade.name v2 || fail "status does not answer while the data dir is measured"
done
[ "$(status_field .pending_upgrade.data_bytes)" = null ] || fail "a figure without a measurement: $(status_field -c .pending_upgrade)"

wait_for "v2 started" 60 started_is 2 v2.0.0
[ "$(start_height_of 2)" -eq $((H - 1)) ] || fail "old node stopped at $(start_height_of 2), not at $((H - 1))"
grep "the size of the data dir is not known yet" "$AGENT_LOG" | grep -q 'why="the upgrade height is reached"' ||
  fail "the log does not say why the node was stopped without a figure"
wait_for "applied" 30 journal_has_applied v2
[ "$(find "$DAEMON_HOME/backups" -name 'pre-v2-*.tar*' ! -name '*.sha256' | wc -l)" -eq 1 ] ||
  fail "backups: $(ls -A "$DAEMON_HOME/backups")"
wait_for "the stuck measurement ended" 10 no_size_worker
assert_consistent upgrades/v2 v2.0.0

# a measurement that finishes is the figure status shows
make_node "$T/stage/v3" v3.0.0
"$WEMIXVISOR" upgrade schedule v3 --height 1000000 --binary "$T/stage/v3" >"$T/schedule.out" 2>&1 ||
  fail "schedule v3: $(cat "$T/schedule.out")"
wait_for "the measurement of v3 paused" 20 size_worker_paused
kill -CONT "$(size_worker)"
wait_for "status shows the data's size" 20 data_bytes_known
[ "$(status_field .pending_upgrade.data_measured_s_ago)" -ge 0 ] || fail "status: $(status_field -c .pending_upgrade)"
status_is .pending_upgrade.waiting_for ready || fail "status: $(status_field -c .pending_upgrade)"
pass
