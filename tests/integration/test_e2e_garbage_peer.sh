#!/usr/bin/env bash
# End to end: a peer floods every agent (and wvcoord) with bad signatures, another chain's
# messages and unknown keys, hundreds a second, while 4 validators go through a quorum-gated
# upgrade. Nothing of it counts: every message is dropped and counted by reason, the agents keep
# answering on their control socket, keep heartbeating (`peers --json` .sent rises) and keep
# hearing each other live and directly, the upgrade completes on all four, and wvcoord reports
# them all on v2.0.0 with the drops counted. (test_fault_flood.sh floods far harder.)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_fleet.sh"
: "${WVCOORD:?set by ctest}"
WVLOAD=${WVLOAD:-$(dirname "$FAKENODE")/wvload}
[ -x "$WVLOAD" ] || fail "wvload not built next to the fake node ($WVLOAD)"
FLEET_BLOCK_MS=150

# the garbage peer: 20 identities at 200 ms, plus per period 40 bad signatures, 40 messages of
# chain "other" and 40 of an unknown key (600 junk messages a second)
LOAD_PORT=$(free_port)
"$WVLOAD" --bind "tcp://127.0.0.1:$LOAD_PORT" --agents 20 --period 200ms --chain wv-test \
  --keys-out "$T/load.keys" --bad-signature 40 --foreign-chain other:40 --unknown-key 40 \
  >"$T/wvload.log" 2>&1 &
fleet_on_cleanup "kill $! 2>/dev/null"
wait_for "wvload bound" 10 test -s "$T/load.keys"
# its identities are known observers (so bad signatures are checked as such), not validators
export WEMIXVISOR_OBSERVERS FLEET_EXTRA_PEERS="tcp://127.0.0.1:$LOAD_PORT"
WEMIXVISOR_OBSERVERS=$(cat "$T/load.keys")

H=60
fleet_init 4 v1.0.0 --stop-at $((H - 1))
for i in 1 2 3 4; do fleet_schedule "$i" v2 "$H"; fleet_install "$i" v2 v2.0.0; done
fleet_start_all
for i in 1 2 3 4; do fleet_wait "agent $i hears the 3 validators" 30 fleet_live_is "$i" 23; done

dropped() { [ "$(fleet_peers_json "$1" | jq ".dropped.signature > 0 and .dropped.chain > 0 and .dropped[\"unknown-key\"] > 0")" = true ]; }
for i in 1 2 3 4; do fleet_wait "agent $i counts the junk by reason" 20 dropped "$i"; done
# the control socket answers during the flood
for i in 1 2 3 4; do
  [ "$(fleet_status "$i" .state)" = running ] || fleet_fail "agent $i: status did not answer during the flood"
done
# and the heartbeats go on: each agent's count of STATEs sent (`peers --json` .sent) keeps rising,
# and the other three keep hearing it live and directly
for i in 1 2 3 4; do
  base=$(fleet_sent "$i")
  fleet_wait "agent $i's heartbeat goes on during the flood" 20 fleet_sent_at_least "$i" $((base + 5))
  for j in 1 2 3 4; do
    [ "$j" -eq "$i" ] && continue
    fleet_peers_json "$j" | jq -e --arg k "${KEY[$i]}" '.members[] | select(.key == $k) | .live and .direct' >/dev/null ||
      fleet_fail "agent $j does not hear agent $i live and directly during the flood"
  done
done

AGENTS=$(for i in 1 2 3 4; do printf '%s,' "$(fleet_endpoint "$i")"; done)
export WVCOORD_AGENTS="${AGENTS}tcp://127.0.0.1:$LOAD_PORT" WEMIXVISOR_VALIDATORS=$FLEET_VALIDATORS
all_on_v2() {
  "$WVCOORD" status --json >"$T/fleet.json" 2>/dev/null
  jq -e --argjson h "$H" '[.members[] | select(.role == "validator")] | length == 4 and
       all(.[]; .version == "v2.0.0" and .node == "running" and .height > $h)' "$T/fleet.json" >/dev/null
}
fleet_wait "wvcoord: the four validators on v2.0.0 past height $H" 90 all_on_v2
jq -e '.dropped.signature > 0 and .dropped.chain > 0 and .dropped["unknown-key"] > 0' "$T/fleet.json" >/dev/null ||
  fleet_fail "wvcoord did not count the junk: $(jq -c .dropped "$T/fleet.json")"
for i in 1 2 3 4; do fleet_applied "$i" v2 || fleet_fail "agent $i did not apply v2"; done
pass
