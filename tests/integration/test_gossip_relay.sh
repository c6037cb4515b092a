#!/usr/bin/env bash
# A partial mesh converges through relays: 4 agents in a line (1 - 2 - 3 - 4, each subscribed to
# its neighbours only) all come to hear every other one, the ends through two relays; the upgrade
# arms and completes on all four; and relaying stays small (a few relayers per gap, not all).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_fleet.sh"
FLEET_PEERS_OF=([1]="2" [2]="1 3" [3]="2 4" [4]="3")

H=60
fleet_init 4 v1.0.0 --stop-at $((H - 1))
for i in 1 2 3 4; do fleet_schedule "$i" v2 "$H"; fleet_install "$i" v2 v2.0.0; done
fleet_start_all
for i in 1 2 3 4; do fleet_wait "agent $i hears all three others (some relayed)" 30 fleet_live_is "$i" 3; done
relayed_1=$(fleet_peers_json 1 | jq '[.members[] | select(.self | not) | select(.direct | not)] | length')
[ "$relayed_1" -ge 2 ] || fleet_fail "agent 1 should hear agents 3 and 4 only through relays ($relayed_1)"
for i in 1 2 3 4; do fleet_wait "v2 on agent $i" 60 fleet_applied "$i" v2; done
# relays per heartbeat stay bounded: in this line, each agent relays at most its neighbours' gaps
for i in 1 4; do
  r=$(fleet_peers_json "$i" | jq '.relayed')
  s=$(fleet_peers_json "$i" | jq '.sent')
  [ "$r" -le "$s" ] || fleet_fail "agent $i (an end of the line) relayed $r messages for $s of its own"
done
pass
