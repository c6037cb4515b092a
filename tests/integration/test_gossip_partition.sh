#!/usr/bin/env bash
# shellcheck disable=SC2119 # fleet_start_all passes its arguments on to the nodes
# A 2|2 partition, made with two network namespaces joined by a veth pair that is kept down:
# agents 1 and 2 hear each other, 3 and 4 hear each other, nobody hears across. All four are
# ready for the same binary and reach the height, and nobody arms: each side has 2 of the 3 votes
# a quorum needs, so every agent is blocked ("2/4 ready, need 3") and the old nodes run on.
# Then the link comes up: the votes cross, all four arm and switch.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_fleet.sh"

[ "$(id -u)" -eq 0 ] || skip "network namespaces need root"
command -v ip >/dev/null || skip "ip (iproute2) is not installed"
NS_A="wv-part-$$-a" NS_B="wv-part-$$-b"
VETH_A="wvp$$a" VETH_B="wvp$$b" # interface names: at most 15 characters
NET=10.201.0
if ! err=$(ip netns add "$NS_A" 2>&1); then
  skip "ip netns add is not permitted here: $err"
fi
fleet_on_cleanup "ip netns del $NS_A 2>/dev/null"
ip netns add "$NS_B" || fail "ip netns add $NS_B"
fleet_on_cleanup "ip netns del $NS_B 2>/dev/null" # (deleting a namespace deletes its veth end)
ip link add "$VETH_A" type veth peer name "$VETH_B" || fail "ip link add veth"
ip link set "$VETH_A" netns "$NS_A" || fail "moving $VETH_A"
ip link set "$VETH_B" netns "$NS_B" || fail "moving $VETH_B"
ip -n "$NS_A" link set lo up || fail "lo up in $NS_A"
ip -n "$NS_B" link set lo up || fail "lo up in $NS_B"
ip -n "$NS_A" addr add "$NET.1/24" dev "$VETH_A" || fail "address in $NS_A"
ip -n "$NS_B" addr add "$NET.2/24" dev "$VETH_B" || fail "address in $NS_B"
# Both ends stay down: the other side has no route, connects fail at once and are retried. The
# own address still answers inside its namespace, so the two agents of a side hear each other.
link() { ip -n "$NS_A" link set "$VETH_A" "$1" && ip -n "$NS_B" link set "$VETH_B" "$1"; }

H=30
fleet_init 4 v1.0.0 --stop-at $((H - 1))
for i in 1 2; do FLEET_HOST[i]=$NET.1 FLEET_WRAP[i]="ip netns exec $NS_A"; done
for i in 3 4; do FLEET_HOST[i]=$NET.2 FLEET_WRAP[i]="ip netns exec $NS_B"; done
for i in 1 2 3 4; do
  fleet_schedule "$i" v2 "$H"
  fleet_install "$i" v2 v2.0.0
done
fleet_start_all

# each side hears its own half only
fleet_wait "agent 1 hears agent 2" 20 fleet_live_is 1 1
fleet_wait "agent 3 hears agent 4" 20 fleet_live_is 3 1
for i in 1 2 3 4; do fleet_wait "agent $i's node at $((H - 1))" 40 fleet_node_height_is "$i" $((H - 1)); done
for i in 1 2 3 4; do
  fleet_wait "agent $i blocked: 2/4 ready, need 3" 20 fleet_waiting_has "$i" "blocked: 2/4 ready, need 3"
done
base=$(fleet_sent 1)
fleet_wait "heartbeats go on" 20 fleet_sent_at_least 1 $((base + 10))
heard_only() { # heard_only I J: agent I has heard from agent J and from no one else
  fleet_peers_json "$1" | jq -e --arg k "${KEY[$2]}" \
    '[.members[] | select((.self | not) and .heard_ms_ago != null) | .key] == [$k]' >/dev/null
}
{ heard_only 1 2 && heard_only 2 1 && heard_only 3 4 && heard_only 4 3; } ||
  fleet_fail "the partition leaks: $(fleet_peers_json 1 | jq -c '[.members[] | {key: .key[:8], heard_ms_ago}]')"
for i in 1 2 3 4; do
  fleet_waiting_has "$i" "blocked: 2/4 ready, need 3" || fleet_fail "agent $i: $(fleet_waiting_for "$i")"
  fleet_phase_is "$i" v2 blocked || fleet_fail "agent $i: phase $(fleet_phase "$i" v2)"
  ! fleet_log_has "$i" "armed:" || fleet_fail "agent $i armed in a partition"
  fleet_current_is "$i" genesis || fleet_fail "agent $i switched in a partition"
  [ "$(fleet_starts "$i")" -eq 1 ] || fleet_fail "agent $i: the old node was restarted"
  fleet_node_alive "$i" || fleet_fail "agent $i: the old node does not run on"
done

# the partition heals: the votes cross, everyone arms and switches where its node stalled
link up || fleet_fail "link up"
for i in 1 2 3 4; do fleet_wait "v2 applied on agent $i" 60 fleet_applied "$i" v2; done
for i in 1 2 3 4; do
  fleet_log_has "$i" "unblocked: the quorum is ready; switching now" || fleet_fail "agent $i: not logged as unblocked"
  fleet_started_is "$i" 2 v2.0.0 || fleet_fail "agent $i: second node $(fleet_start_field "$i" 2 version)"
done
fleet_check_stops "$H" 4 1 2 3 4 # all four were held at H-1, blocked
pass
