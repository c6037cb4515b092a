#!/usr/bin/env bash
# shellcheck disable=SC2119 # fleet_start_all passes its arguments on to the nodes
# Three of four validators are ready: a quorum, so they arm and switch at the height. The fourth,
# whose binary is missing, is not blocked by that (the quorum went ahead) and keeps its old node
# (stalled at height - 1). Once its binary arrives it catches up at once: the others' "done" votes
# arm it, and it switches at the height it is already past.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_fleet.sh"

H=30
fleet_init 4 v1.0.0 --stop-at $((H - 1))
for i in 1 2 3 4; do fleet_schedule "$i" v2 "$H"; done
for i in 1 2 3; do fleet_install "$i" v2 v2.0.0; done
fleet_start_all

for i in 1 2 3; do fleet_wait "v2 applied on agent $i" 60 fleet_applied "$i" v2; done
for i in 1 2 3; do
  fleet_started_is "$i" 2 v2.0.0 || fleet_fail "agent $i: second node $(fleet_start_field "$i" 2 version)"
done
fleet_check_stops "$H" 2 1 2 3 # of the three reports that made the network height, one may be agent 4's

# the fourth: past the height on the old node, waiting for its binary, not blocked
fleet_wait "agent 4's node at $((H - 1))" 30 fleet_node_height_is 4 $((H - 1))
waits_for_binary() { [ "$(fleet_waiting_for 4)" = "its binary" ]; }
fleet_wait "agent 4 waits for its binary" 20 waits_for_binary
says_why() { [ "$(fleet_upgrade_field 4 v2 reason)" = "3/4 ready, need 3; the binary is missing here" ]; }
fleet_wait "agent 4 says why it waits" 20 says_why
done_votes() { fleet_peers_json 4 | jq -e '[.upgrades[] | select(.name == "v2" and .done == 3)] | length == 1'; }
fleet_wait "agent 4 sees 3 done votes" 20 done_votes
fleet_current_is 4 genesis || fleet_fail "agent 4 switched without its binary"
[ "$(fleet_starts 4)" -eq 1 ] || fleet_fail "agent 4's node was restarted"
fleet_node_alive 4 || fleet_fail "agent 4's old node is not running"
[[ "$(fleet_waiting_for 4)" != blocked* ]] || fleet_fail "agent 4 is blocked: $(fleet_waiting_for 4)"
! fleet_log_has 4 "upgrade blocked" || fleet_fail "agent 4 logged blocked"
! fleet_applied 4 v2 || fleet_fail "agent 4: applied without a binary"

fleet_install 4 v2 v2.0.0
fleet_wait "v2 applied on agent 4" 30 fleet_applied 4 v2
fleet_started_is 4 2 v2.0.0 || fleet_fail "agent 4: second node $(fleet_start_field 4 2 version)"
[ "$(fleet_start_field 4 2 height)" = $((H - 1)) ] || fleet_fail "agent 4: old node stopped at $(fleet_start_field 4 2 height)"
fleet_current_is 4 upgrades/v2 || fleet_fail "agent 4: current"
fleet_log_has 4 "armed: a quorum of validators is ready" || fleet_fail "agent 4: not armed"
grep -q 'armed: .* ready=4 quorum=3' "$(fleet_log 4)" || fleet_fail "agent 4: armed without the others' done votes: $(grep 'armed:' "$(fleet_log 4)")"
all_done() { fleet_peers_json 1 | jq -e '[.upgrades[] | select(.name == "v2" and .done == 4 and .ready == 4)] | length == 1'; }
fleet_wait "agent 1 sees 4/4 done" 15 all_done
pass
