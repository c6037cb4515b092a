#!/usr/bin/env bash
# wvcoord and a blocked upgrade: 2 of 4 validators have the binary when the height comes; wvcoord
# shows the upgrade at 2/4 ready against a quorum of 3, blocked on the two ready ones, names them,
# and `status` exits 1.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_fleet.sh"
: "${WVCOORD:?set by ctest}"

H=25
fleet_init 4 v1.0.0 --stop-at $((H - 1))
for i in 1 2 3 4; do fleet_schedule "$i" v2 "$H"; done
fleet_install 1 v2 v2.0.0
fleet_install 2 v2 v2.0.0
fleet_start_all
AGENTS=$(for i in 1 2 3 4; do printf '%s,' "$(fleet_endpoint "$i")"; done)
export WVCOORD_AGENTS=${AGENTS%,} WEMIXVISOR_VALIDATORS=$FLEET_VALIDATORS
blocked_on_two() {
  "$WVCOORD" status --json 2>/dev/null >"$T/s.json"
  jq -e '.upgrades[] | select(.name == "v2" and .ready == 2 and .quorum == 3 and .blocked == 2)' \
    "$T/s.json" >/dev/null
}
fleet_wait "wvcoord sees v2 blocked on two validators" 60 blocked_on_two
set +e
"$WVCOORD" status >"$T/status.txt" 2>&1
rc=$?
set -e
[ "$rc" = 1 ] || fail "status exited $rc with a blocked upgrade"
grep -q "upgrade v2 is blocked on 2 validator(s): 2/4 ready, need 3" "$T/status.txt" ||
  fail "status text: $(cat "$T/status.txt")"
grep -q "2/4 ready, need 3" "$T/status.txt" || fail "reason missing"

PORT=$(free_port)
"$WVCOORD" serve --listen "127.0.0.1:$PORT" >"$T/serve.log" 2>&1 &
fleet_on_cleanup "kill $! 2>/dev/null"
ups() { curl -sf "http://127.0.0.1:$PORT/api/upgrades"; }
blocked_by() { ups | jq -e 'any(.[]; .name == "v2" and (.blocked_by | length) == 2)' >/dev/null; }
fleet_wait "/api/upgrades lists the blocked validators" 20 blocked_by
ups | jq -e --arg a "${KEY[1]}" --arg b "${KEY[2]}" \
  '.[] | select(.name == "v2") | (.blocked_by | sort) == ([$a, $b] | sort) and .quorum_reached == false' \
  >/dev/null || fail "/api/upgrades: $(ups)"
curl -sf "http://127.0.0.1:$PORT/metrics" | grep -q '^wvcoord_upgrade_blocked{upgrade="v2",height="25",sha256="[0-9a-f]*"} 2$' ||
  fail "metrics: $(curl -sf "http://127.0.0.1:$PORT/metrics" | grep upgrade)"
# nothing switched anywhere
for i in 1 2 3 4; do fleet_current_is "$i" genesis || fail "agent $i switched"; done
pass
