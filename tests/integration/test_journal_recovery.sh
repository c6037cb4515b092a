#!/usr/bin/env bash
# An agent killed between "switching" and "applied" left the journal mid-step: the next agent
# settles it from where `current` points, and does not apply the same upgrade again.
source "$(dirname "$0")/lib.sh"

init_genesis v1.0.0
install_upgrade v2 v2.0.0
write_upgrade_info '{"name":"v2","height":50}'
# the state an agent leaves when killed right after the symlink switch
ln -sfn upgrades/v2 "$DAEMON_HOME/wemixvisor/current"
cat >"$DAEMON_HOME/wemixvisor/state.json" <<'JSON'
{"version": 1, "applied": [],
 "step": {"upgrade": "v2", "height": 50, "step": "switching", "since": "2026-01-01T00:00:00Z"}}
JSON
start_agent
wait_for "node started" 10 node_started 1
started_is 1 v2.0.0 || fail "started $(started_version 1)"
agent_log_has "stopped in the middle of an upgrade" || fail "the interrupted step is not reported"
jq -e '.step == null and .applied == [{"name":"v2","height":50,"time":.applied[0].time}]' \
  "$DAEMON_HOME/wemixvisor/state.json" >/dev/null || fail "journal: $(cat "$DAEMON_HOME/wemixvisor/state.json")"
if agent_log_has "upgrade applied"; then fail "v2 applied twice"; fi

# a corrupt journal stops the agent with a message naming it, before anything starts
stop_agent
echo '{"version": 1, "applied": 7}' >"$DAEMON_HOME/wemixvisor/state.json"
set +e
"$WEMIXVISOR" run --datadir "$DATA" --http.port 0 >"$T/corrupt.log" 2>&1
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "corrupt journal: exit $rc"
grep -q "journal $DAEMON_HOME/wemixvisor/state.json is corrupt" "$T/corrupt.log" || fail "message: $(cat "$T/corrupt.log")"
[ "$(events_count event start)" -eq 1 ] || fail "a node was started with a corrupt journal"
pass
