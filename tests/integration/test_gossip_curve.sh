#!/usr/bin/env bash
# CURVE: three agents that hold each other's public certs gossip encrypted and authenticated;
# a fourth agent whose cert is not in their peers directories cannot even connect, so it hears
# nobody, and they never hear of it.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_fleet.sh"
export WEMIXVISOR_CURVE=true

fleet_init 3 v1.0.0
mkdir -p "$T/certs"
for i in 1 2 3; do
  fleet_env "$i" "$WEMIXVISOR" id --curve-cert "$T/certs/a$i.cert" \
    --endpoint "tcp://127.0.0.1:${GP[$i]}" >/dev/null || fail "id --curve-cert $i"
  [ "$(stat -c %a "$(fleet_home "$i")/wemixvisor/curve.cert_secret")" = 600 ] || fail "secret mode"
done
for i in 1 2 3; do
  for j in 1 2 3; do
    [ "$i" = "$j" ] || cp "$T/certs/a$j.cert" "$(fleet_home "$i")/wemixvisor/curve/peers/"
  done
done
fleet_start_all
for i in 1 2 3; do fleet_wait "agent $i hears the other two over CURVE" 30 fleet_live_is "$i" 2; done
[ "$(fleet_peers_json 1 | jq -r .curve)" = true ] || fail "peers --json does not say curve"

# The outsider: it has the three certs (so it knows their server keys) but none of them has its
# cert, so their authenticator refuses it.
OUT="$T/outsider"
make_node "$T/stage/outsider" v1.0.0
DAEMON_HOME="$OUT" "$WEMIXVISOR" init "$T/stage/outsider" >/dev/null || fail "init outsider"
cp "$T/certs/"*.cert "$OUT/wemixvisor/curve/peers/"
OUT_RPC=$(free_port)
DAEMON_HOME="$OUT" DAEMON_RPC_ADDRESS="127.0.0.1:$OUT_RPC" VALIDATOR_MODE=false \
  WEMIXVISOR_VALIDATORS="$FLEET_VALIDATORS" \
  WEMIXVISOR_PEERS="tcp://127.0.0.1:${GP[1]},tcp://127.0.0.1:${GP[2]},tcp://127.0.0.1:${GP[3]}" \
  "$WEMIXVISOR" run -- --datadir "$OUT/data" --http.port "$OUT_RPC" --block-ms 100 \
  >"$T/outsider.log" 2>&1 &
OUT_PID=$!
outsider_peers() { DAEMON_HOME="$OUT" "$WEMIXVISOR" peers --json 2>/dev/null; }
outsider_up() { outsider_peers | jq -e '.members | length == 4' >/dev/null; }
fleet_wait "outsider answers" 20 outsider_up
# ten heartbeats: long enough for a connected SUB to have heard every member many times
beats_seen() { [ "$(fleet_peers_json 1 | jq '.sent')" -ge "$1" ]; }
start_sent=$(fleet_peers_json 1 | jq '.sent')
fleet_wait "ten more heartbeats" 30 beats_seen $((start_sent + 10))
heard=$(outsider_peers | jq '[.members[] | select(.self | not) | select(.heard_ms_ago != null)] | length')
[ "$heard" = 0 ] || fail "the outsider heard $heard members without being whitelisted"
kill -TERM "$OUT_PID"
wait_quiet_exit "$OUT_PID" 20 || fail "outsider did not stop"
# the three still hear each other
for i in 1 2 3; do fleet_live_is "$i" 2 || fail "agent $i lost its peers"; done
pass
