#!/usr/bin/env bash
# A new binary that dies before passing the upgrade height: the data comes back from the backup
# byte for byte, current goes back, the upgrade is recorded as failed and no longer pending, and
# the node is left stopped because the old binary cannot go past the height.
source "$(dirname "$0")/lib.sh"
export DAEMON_HEALTH_CHECK_INTERVAL=500ms

init_genesis v1.0.0 --upgrade-in 5 --upgrade-name v2
install_upgrade v2 v2.0.0 --crash-after 30
mkdir -p "$DATA/chaindata"
head -c 300000 /dev/urandom >"$DATA/chaindata/000001.ldb"
start_agent
wait_for "v2 failed" 30 journal_has_failed v2
wait_for "rolled back" 10 agent_log_has "upgrade rolled back"
current_is genesis || fail "current is $(current_target)"
jq -e '.failed[0].reason | test("exited during verification")' "$DAEMON_HOME/wemixvisor/state.json" >/dev/null ||
  fail "reason: $(jq -c .failed "$DAEMON_HOME/wemixvisor/state.json")"
# the data dir is the backup's content again (the crashed v2 had written its own height)
archive=$(ls "$DAEMON_HOME"/backups/pre-v2-*.tar* | grep -v sha256 | head -1)
mkdir "$T/extract"
tar -xf "$archive" -C "$T/extract" || fail "cannot read the archive with tar"
diff -r "$T/extract" "$DATA" -x fakenode.events -x fakenode.port -x upgrade-info.json >/dev/null ||
  fail "data differs from the backup: $(diff -r "$T/extract" "$DATA" | head -5)"
cmp -s "$T/extract/chaindata/000001.ldb" "$DATA/chaindata/000001.ldb" || fail "chain data changed"
wait_for "left stopped" 10 status_is .state stopped
status_is .pending_upgrade null || fail "the failed upgrade is still pending: $(status_field -c .pending_upgrade)"
pass
