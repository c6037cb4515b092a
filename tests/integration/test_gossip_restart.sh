#!/usr/bin/env bash
# shellcheck disable=SC2119 # fleet_start_all passes its arguments on to the nodes
# An agent SIGKILLed in the middle of a gossiped upgrade (all four armed, the height not reached)
# takes its node with it (PDEATHSIG). Restarted, it starts its node again, hears the others, arms
# again and switches with them (or catches up on their done votes): all four converge on v2.
# Its signed messages after the restart are accepted (its seq goes on rising).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_fleet.sh"

H=80
FLEET_BLOCK_MS=150 # ~12 s to the height: the kill and the restart fall well before it
fleet_init 4 v1.0.0 --stop-at $((H - 1))
for i in 1 2 3 4; do
  fleet_schedule "$i" v2 "$H"
  fleet_install "$i" v2 v2.0.0
done
fleet_start_all
for i in 1 2 3 4; do fleet_wait "agent $i's node runs" 30 fleet_node_alive "$i"; done
for i in 1 2 3 4; do fleet_wait "agent $i armed" 30 fleet_phase_is "$i" v2 armed; done
all_seen_armed() { fleet_peers_json 1 | jq -e '[.upgrades[] | select(.name == "v2" and .armed == 4)] | length == 1'; }
fleet_wait "agent 1 sees 4 armed" 10 all_seen_armed

node_pid=$(fleet_start_field 2 1 pid)
fleet_kill 2
for i in 1 2 3 4; do
  h=$(fleet_node_height "$i")
  [ "$h" -lt $((H - 1)) ] || fleet_fail "agent $i's node is at $h already: the kill was not before the height"
done
gone() { ! kill -0 "$node_pid" 2>/dev/null || [ "$(awk '{print $3}' "/proc/$node_pid/stat" 2>/dev/null)" = Z ]; }
fleet_wait "agent 2's node dies with it" 10 gone

fleet_start 2
restarted() { [ "$(fleet_starts 2)" -ge 2 ] && fleet_node_alive 2; }
fleet_wait "agent 2 restarts its node" 20 restarted

for i in 1 2 3 4; do fleet_wait "v2 applied on agent $i" 40 fleet_applied "$i" v2; done
for i in 1 2 3 4; do
  fleet_current_is "$i" upgrades/v2 || fleet_fail "agent $i: current"
  n=$(fleet_starts "$i")
  fleet_started_is "$i" "$n" v2.0.0 || fleet_fail "agent $i: last node $(fleet_start_field "$i" "$n" version)"
done
fleet_check_stops "$H" 3 1 2 3 4
[ "$(grep -c 'armed: a quorum' "$(fleet_log 2)")" -eq 2 ] || fleet_fail "agent 2 did not arm again after the restart"
! fleet_log_has 2 "upgrade blocked" || fleet_fail "agent 2 was blocked"
all_done() { fleet_peers_json "$1" | jq -e '([.members[] | select(.live)] | length) == 4 and
    ([.upgrades[] | select(.name == "v2" and .done == 4)] | length) == 1'; }
for i in 1 2 3 4; do fleet_wait "agent $i sees 4 done" 15 all_done "$i"; done
for i in 1 3 4; do
  # relayed copies of agent 2's last state before the kill may arrive late (duplicate, old):
  # harmless; anything else would mean a message of the restarted agent was refused
  d=$(fleet_peers_json "$i" | jq -c '.dropped | del(.duplicate, .old) | with_entries(select(.value > 0))')
  [ "$d" = "{}" ] || fleet_fail "agent $i dropped messages: $d"
done
pass
