#!/usr/bin/env bash
# stop, start, restart and status over the control socket; status without an agent.
source "$(dirname "$0")/lib.sh"
export DAEMON_HEALTH_CHECK_INTERVAL=200ms

init_genesis v1.2.3
set +e
out=$("$WEMIXVISOR" status 2>&1)
rc=$?
set -e
[ "$rc" -eq 3 ] && grep -q "no wemixvisor agent is running" <<<"$out" || fail "status without agent: $rc $out"

start_agent
wait_for "healthy" 20 status_is .health healthy
json=$("$WEMIXVISOR" status --json)
for k in state pid version current height restarts uptime_s last_exit; do
  jq -e "has(\"$k\")" <<<"$json" >/dev/null || fail "status --json lacks $k: $json"
done
jq -e '.state == "running" and .version == "v1.2.3" and .current == "genesis" and .height >= 1
       and .restarts == 0 and .last_exit == null and (.pid | type) == "number"
       and (.client_version | startswith("Fakenode/v1.2.3"))' <<<"$json" >/dev/null || fail "status: $json"
[ "$(stat -c %a "$DAEMON_HOME/wemixvisor/agent.sock")" = 600 ] || fail "socket mode"
pid1=$(jq .pid <<<"$json")

"$WEMIXVISOR" stop >/dev/null || fail "stop"
wait_for "stopped" 10 status_is .state stopped
status_is .want_running false || fail "want_running"
[ "$(events_count event sigterm)" -eq 1 ] || fail "stop was not graceful"
status_is .last_exit.code 0 || fail "last_exit after stop: $(status_field -c .last_exit)"
"$WEMIXVISOR" status | grep -q "stopped by the operator" || fail "status table"

"$WEMIXVISOR" start >/dev/null || fail "start"
wait_for "running again" 10 status_is .state running
pid2=$(status_field .pid)
[ "$pid2" != "$pid1" ] || fail "same pid after start"

"$WEMIXVISOR" restart >/dev/null || fail "restart"
restarted() { [ "$(events_count event start)" -ge 3 ] && status_is .state running; }
wait_for "restarted" 10 restarted
[ "$(status_field .pid)" != "$pid2" ] || fail "same pid after restart"
status_is .restarts 0 || fail "an operator restart counted as a crash"

set +e
out=$("$WEMIXVISOR" status --bogus 2>&1)
rc=$?
set -e
[ "$rc" -eq 2 ] || fail "bad option: $rc $out"

stop_agent
[ ! -e "$DAEMON_HOME/wemixvisor/agent.sock" ] || fail "socket left behind"
pass
