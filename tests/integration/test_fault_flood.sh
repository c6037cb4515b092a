#!/usr/bin/env bash
# shellcheck disable=SC2119 # fleet_start passes its arguments on to the node
# Fault: a peer floods one agent with frames of the largest size, as fast as it can, during a
# quorum-gated upgrade. test_e2e_garbage_peer.sh sends junk at a few hundred messages a second;
# this one is heavier: wvload records 500 STATEs of a listed observer key, bodies padded to the
# 12288-byte maximum (frames of ~12.5 KB), one in five with a valid signature and the rest with a
# corrupted one, and replays them verbatim, 500 every 10 ms (as fast as it can: tens of thousands
# a second, gigabytes in all). The bad signatures are the expensive kind: their seq is fresh, so
# each one costs agent 1 a signature check, every round.
# What the operator sees on agent 1, at every look while the flood runs:
#   - its heartbeat goes on: its `peers --json` .sent keeps rising, and agents 2-4's
#     `peers --json` show it live and heard directly;
#   - its control socket answers (`status --json` has a node state);
#   - the flood is counted: .messages_in and .dropped.signature / .dropped.old rise, and it logs
#     `message dropped ... reason=signature` once.
# Memory and queues stay bounded: agent 1's RSS (/proc/PID/status VmRSS) grows by less than
# 64 MiB while more than 100 000 frames (> 1 GB) arrive, and once the flood stops, fewer than
# 3000 more of its frames arrive (what the ZMQ high-water marks and the socket buffers held).
# The upgrade completes on all four during the flood; each ends with current -> upgrades/v2 and
# one node, v2.0.0, that its agent reports running.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_fleet.sh"
WVLOAD=${WVLOAD:-$(dirname "$FAKENODE")/wvload}
[ -x "$WVLOAD" ] || fail "wvload not built next to the fake node ($WVLOAD)"

RSS_GROWTH_MAX_KB=$((64 * 1024))
FLOOD_FRAMES_MIN=100000 # frames agent 1 must have taken in before the flood stops
DRAIN_MAX=3000          # frames that may still arrive after it stopped

# --- the flood: 500 recorded max-size STATEs of one listed observer, 99 of each 100 forged
SIM_PORT=$(free_port)
"$WVLOAD" --bind "tcp://127.0.0.1:$SIM_PORT" --agents 1 --period 100ms --chain wv-test \
  --keys-out "$T/flood.keys" --body-size 12288 --bad-signature 99 >"$T/sim.log" 2>&1 &
SIM_PID=$!
fleet_on_cleanup "kill $SIM_PID 2>/dev/null"
wait_for "wvload bound" 10 test -s "$T/flood.keys"
"$WVLOAD" --record "tcp://127.0.0.1:$SIM_PORT" --out "$T/flood.rec" --count 500 --duration 30s \
  >"$T/record.out" 2>"$T/record.err" || fail "wvload --record: $(cat "$T/record.err")"
kill "$SIM_PID"
[ "$(wc -l <"$T/flood.rec")" -eq 500 ] || fail "recorded $(wc -l <"$T/flood.rec") frames"
export WEMIXVISOR_OBSERVERS # the flooding key is listed: its frames get past the key check
WEMIXVISOR_OBSERVERS=$(cat "$T/flood.keys")

H=60
fleet_init 4 v1.0.0 --stop-at $((H - 1))
for i in 1 2 3 4; do fleet_schedule "$i" v2 "$H"; fleet_install "$i" v2 v2.0.0; done
FLOOD="tcp://127.0.0.1:$(free_port)"
FLEET_EXTRA_PEERS=$FLOOD fleet_start 1 # only agent 1 subscribes to the flooder
for i in 2 3 4; do fleet_start "$i"; done
for i in 1 2 3 4; do fleet_wait "agent $i hears the 3 others" 30 fleet_live_is "$i" 3; done

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/${APID[1]}/status"; }
in_count() { fleet_peers_json 1 | jq '.messages_in'; }
rss0=$(rss_kb)
in0=$(in_count)
"$WVLOAD" --replay "$T/flood.rec" --bind "$FLOOD" --period 10ms >"$T/flood.log" 2>&1 &
FLOOD_PID=$!
fleet_on_cleanup "kill $FLOOD_PID 2>/dev/null"

# every look: agent 1's heartbeat has advanced since the last look, the others hear it live and
# directly, and it answers on its control socket
rss_max=$rss0
looks=0
sent_before=$(fleet_sent 1)
look() {
  local i rss
  fleet_wait "agent 1's heartbeat goes on under the flood" 20 fleet_sent_at_least 1 $((sent_before + 1))
  sent_before=$(fleet_sent 1)
  for i in 2 3 4; do
    fleet_peers_json "$i" | jq -e --arg k "${KEY[1]}" '.members[] | select(.key == $k) | .live and .direct' >/dev/null ||
      fleet_fail "agent $i does not hear agent 1 live during the flood: $(fleet_peers_json "$i" | jq -c --arg k "${KEY[1]}" '.members[] | select(.key == $k)')"
  done
  [ -n "$(fleet_status 1 .state)" ] || fleet_fail "agent 1: status --json did not answer during the flood"
  rss=$(rss_kb)
  [ "$rss" -le "$rss_max" ] || rss_max=$rss
  [ $((rss_max - rss0)) -lt "$RSS_GROWTH_MAX_KB" ] ||
    fleet_fail "agent 1's RSS grew from ${rss0} kB to ${rss_max} kB under the flood"
  looks=$((looks + 1))
}
flooded() { [ "$(in_count)" -ge $((in0 + FLOOD_FRAMES_MIN)) ]; }
deadline=$((SECONDS + 60))
until [ "$looks" -ge 5 ] && flooded; do
  [ "$SECONDS" -lt "$deadline" ] || fleet_fail "agent 1 took in only $(($(in_count) - in0)) frames of the flood"
  look
done
# the upgrade goes through with the flood still on
for i in 1 2 3 4; do
  until fleet_applied "$i" v2; do
    [ "$SECONDS" -lt $((deadline + 60)) ] || fleet_fail "v2 not applied on agent $i under the flood"
    look
  done
done
kill -0 "$FLOOD_PID" 2>/dev/null || fail "the flooder died: $(cat "$T/flood.log")"
view=$(fleet_peers_json 1)
jq -e '.dropped.signature > 1000 and .dropped.old > 1000' <<<"$view" >/dev/null ||
  fleet_fail "agent 1 did not count the flood by reason: $(jq -c .dropped <<<"$view")"
fleet_log_has 1 'message dropped .*reason=signature' || fleet_fail "agent 1 did not log the signature drop"

# the flood stops: what was queued for agent 1 is bounded by the high-water marks
kill -TERM "$FLOOD_PID"
wait "$FLOOD_PID" 2>/dev/null || true
in_stop=$(in_count)
settled() {
  local a b
  a=$(in_count)
  fleet_wait "two heartbeats" 10 fleet_sent_at_least 1 $(($(fleet_sent 1) + 2))
  b=$(in_count)
  [ $((b - a)) -lt 50 ] # the other agents' heartbeats only
}
fleet_wait "agent 1 has drained what the flood left" 30 settled
drained=$(($(in_count) - in_stop))
[ "$drained" -lt "$DRAIN_MAX" ] ||
  fleet_fail "$drained frames arrived after the flood stopped: more than the high-water marks hold"
replayed=$(sed -n 's/.* replayed=\([0-9]*\) .*/\1/p' "$T/flood.log")
echo "flood: $replayed frames sent, $(($(in_count) - in0)) taken in by agent 1 (what it could not take" \
  "was dropped at the high-water mark), $drained after it stopped; RSS ${rss0} kB -> at most" \
  "${rss_max} kB over $looks looks"

for i in 1 2 3 4; do
  [ "$(fleet_starts "$i")" -eq 2 ] || fleet_fail "agent $i: $(fleet_starts "$i") node starts, want 2"
  fleet_assert_consistent "$i" upgrades/v2 v2.0.0
done
fleet_check_stops "$H" 2 1 2 3 4
pass
