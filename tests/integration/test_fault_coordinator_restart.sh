#!/usr/bin/env bash
# shellcheck disable=SC2119 # fleet_start_all passes its arguments on to the nodes
# Fault: wvcoord is killed with SIGKILL in the middle of a quorum-gated upgrade, and restarted.
# Four validators, all ready for v2: `wvcoord serve` watches them arm (its /api/fleet counts the
# quorum reached), and is SIGKILLed before the height; the agents switch without it, and it is
# started again once they are done. (test_wvcoord_status.sh kills and restarts it with a silent
# node, outside any upgrade.)
# What the operator sees:
#   - the agents are unaffected: each logs `armed:` and `upgrade done name=v2`, starts exactly two
#     nodes (v1.0.0, then v2.0.0 where the old one stopped), never blocks, and ends with
#     current -> upgrades/v2 and one node, v2.0.0, that its agent reports running;
#   - the restarted `wvcoord serve` shows (/api/fleet, /api/upgrades, /metrics) every node
#     running v2.0.0 with v2 done by 4/4 and no problem before agent 1 has sent 10 more
#     heartbeats;
#   - a one-look `wvcoord status --json` (two heartbeats of listening) shows the same and exits 0.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_fleet.sh"
: "${WVCOORD:?set by ctest}"

H=100 # far enough for the agents to arm (and wvcoord to see it) before the height
fleet_init 4 v1.0.0 --stop-at $((H - 1))
for i in 1 2 3 4; do fleet_schedule "$i" v2 "$H"; fleet_install "$i" v2 v2.0.0; done
fleet_start_all
AGENTS=$(for i in 1 2 3 4; do printf '%s,' "$(fleet_endpoint "$i")"; done)
export WVCOORD_AGENTS=${AGENTS%,} WEMIXVISOR_VALIDATORS=$FLEET_VALIDATORS
PORT=$(free_port)
api() { curl -sf "http://127.0.0.1:$PORT$1"; }
start_coord() {
  "$WVCOORD" serve --listen "127.0.0.1:$PORT" >>"$T/coord.log" 2>&1 &
  COORD_PID=$!
  fleet_on_cleanup "kill $COORD_PID 2>/dev/null"
}
start_coord

# --- the quorum is reached, and wvcoord sees it; then it is killed before the height
quorum_seen() {
  api /api/fleet | jq -e '[.upgrades[] | select(.name == "v2")] | length == 1 and
    (.[0] | .ready == 4 and .armed >= 3 and .quorum_reached)' >/dev/null
}
fleet_wait "wvcoord sees v2 armed by a quorum" 40 quorum_seen
for i in 1 2 3 4; do
  ! fleet_applied "$i" v2 || fleet_fail "agent $i was done before wvcoord was killed: not mid-upgrade"
done
kill -KILL "$COORD_PID"
wait_quiet_exit "$COORD_PID" 10 || fail "wvcoord serve survived SIGKILL"

# --- the agents switch with no coordinator, and finish as if nothing happened
for i in 1 2 3 4; do fleet_wait "v2 applied on agent $i" 60 fleet_applied "$i" v2; done
for i in 1 2 3 4; do
  fleet_log_has "$i" "armed: a quorum of validators is ready" || fleet_fail "agent $i: not logged as armed"
  fleet_log_has "$i" "upgrade done name=v2" || fleet_fail "agent $i: not logged as done"
  ! fleet_log_has "$i" "upgrade blocked" || fleet_fail "agent $i: logged as blocked"
  [ "$(fleet_starts "$i")" -eq 2 ] || fleet_fail "agent $i: $(fleet_starts "$i") node starts, want 2"
  fleet_started_is "$i" 1 v1.0.0 || fleet_fail "agent $i: first node $(fleet_start_field "$i" 1 version)"
  fleet_assert_consistent "$i" upgrades/v2 v2.0.0
done
fleet_check_stops "$H" 3 1 2 3 4

# --- restarted: it shows the fleet as it is now, everyone on v2.0.0 and v2 done by 4/4, within
# a few heartbeats (counted by agent 1: once done, it publishes only on its heartbeat)
fleet_wait "agent 1 publishes its done vote" 10 fleet_phase_is 1 v2 done
beats=$(fleet_sent 1)
start_coord
all_done() { api /api/fleet >"$T/fleet.json" && fleet_coord_done "$T/fleet.json" v2.0.0 v2; }
fleet_wait "the restarted wvcoord shows all four on v2.0.0, v2 done" 20 all_done
took=$(($(fleet_sent 1) - beats))
echo "the restarted wvcoord showed the fleet done after $took heartbeats of agent 1"
[ "$took" -le 10 ] || fleet_fail "the restarted wvcoord needed $took heartbeats to show the fleet"
jq -e '.problems == [] and ([.members[] | select(.address | startswith("tcp://"))] | length) == 4' "$T/fleet.json" >/dev/null ||
  fleet_fail "wvcoord after restart: $(jq -c '{problems, members: [.members[] | {key, address}]}' "$T/fleet.json")"
api /api/upgrades | jq -e --argjson n 4 '[.[] | select(.name == "v2")][0] | (.done_by | length) == $n and .blocked_by == []' >/dev/null ||
  fleet_fail "/api/upgrades: $(api /api/upgrades)"
m=$(api /metrics) || fleet_fail "GET /metrics"
grep -q '^wvcoord_upgrade_done{upgrade="v2",height="100",sha256="[0-9a-f]*"} 4$' <<<"$m" ||
  fleet_fail "metrics: $(grep '^wvcoord_upgrade' <<<"$m")"
[ "$(grep -c '^wvcoord_node_version_info{key="[0-9a-f]*",role="validator",version="v2.0.0"} 1$' <<<"$m")" = 4 ] ||
  fleet_fail "metrics: $(grep '^wvcoord_node_version_info' <<<"$m")"
[ "$(grep -c '^wvcoord_node_up{.*} 1$' <<<"$m")" = 4 ] || fleet_fail "metrics: $(grep '^wvcoord_node_up' <<<"$m")"

# a fresh one-look coordinator agrees, and finds nothing wrong
"$WVCOORD" status --json >"$T/look.json" || fleet_fail "wvcoord status exited $?: $(cat "$T/look.json")"
fleet_coord_done "$T/look.json" v2.0.0 v2 || fleet_fail "wvcoord status --json: $(cat "$T/look.json")"
kill -TERM "$COORD_PID"
wait_quiet_exit "$COORD_PID" 10 || fail "wvcoord serve did not stop on SIGTERM"
pass
