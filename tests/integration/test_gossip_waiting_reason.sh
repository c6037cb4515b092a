#!/usr/bin/env bash
# shellcheck disable=SC2119 # fleet_start_all passes its arguments on to the nodes
# What an agent says its upgrade waits for once a missing binary has arrived: the quorum, as on
# an agent that had the binary from the start, not "its binary" any more; and `restart` of its
# node is not refused as if the binary were still missing. (Two of four ready: no quorum, stable.)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_fleet.sh"

H=100000
fleet_init 4 v1.0.0
for i in 1 2 3 4; do fleet_schedule "$i" v2 "$H"; done
fleet_install 2 v2 v2.0.0
fleet_start_all
waits_for_binary() { [ "$(fleet_waiting_for 1)" = "its binary" ]; }
fleet_wait "agent 1 waits for its binary" 20 waits_for_binary
fleet_wait "agent 2 waits for the quorum" 20 fleet_waiting_has 2 "quorum: 1/4 ready, need 3"

fleet_install 1 v2 v2.0.0
fleet_wait "agent 1 votes" 20 fleet_phase_is 1 v2 ready
fleet_wait "agent 2 sees 2/4 ready" 20 fleet_waiting_has 2 "quorum: 2/4 ready, need 3"
fleet_wait "agent 1 waits for the quorum, not for its binary" 10 fleet_waiting_has 1 "quorum: 2/4 ready, need 3"

out=$(fleet_env 1 "$WEMIXVISOR" restart 2>&1) || fleet_fail "restart on agent 1 refused: $out"
restarted() { [ "$(fleet_starts 1)" -ge 2 ] && fleet_node_alive 1; }
fleet_wait "agent 1's node restarted" 20 restarted
pass
