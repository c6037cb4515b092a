#!/usr/bin/env bash
# shellcheck disable=SC2119 # fleet_start_all passes its arguments on to the nodes
# A rolling upgrade (the new binary also runs the old rules) far ahead of the chain: once armed,
# the four validators switch before the height, one restart slot at a time (n - q = 1 may be
# down), lowest key first. From the agents' own logs: the intervals [step=stopping, upgrade done]
# of different agents never overlap.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_fleet.sh"

H=100000
fleet_init 4 v1.0.0
for i in 1 2 3 4; do
  fleet_schedule "$i" v2 "$H" rolling
  fleet_install "$i" v2 v2.0.0
done
fleet_start_all
for i in 1 2 3 4; do fleet_wait "v2 applied on agent $i" 60 fleet_applied "$i" v2; done
for i in 1 2 3 4; do
  fleet_current_is "$i" upgrades/v2 || fleet_fail "agent $i: current"
  # (the last start; under load an old node stopped right after its spawn may not have logged one)
  n=$(fleet_starts "$i")
  fleet_started_is "$i" "$n" v2.0.0 || fleet_fail "agent $i: last node $(fleet_start_field "$i" "$n" version)"
  [ "$(fleet_node_height "$i")" -lt "$H" ] || fleet_fail "agent $i: at the height"
  fleet_log_has "$i" "taking a restart slot for the rolling upgrade" || fleet_fail "agent $i: no slot logged"
done
fleet_check_serial v2
# lowest key first: the first slot goes to whoever is armed first (the others may still be starting);
# once it is given back all are armed and waiting, and the rest go in the order of their keys
order=$(fleet_intervals v2 | awk 'NR > 1 {print $3}' | while read -r i; do echo "${KEY[$i]}"; done)
[ "$order" = "$(sort <<<"$order")" ] ||
  fleet_fail "after the first, the slots were not taken in key order: $(cut -c1-8 <<<"$order" | tr '\n' ' ')"
# everyone's view: 4 done, nobody down
all_done() { fleet_peers_json "$1" | jq -e '([.members[] | select(.live and .node == "running")] | length) == 4 and
    ([.upgrades[] | select(.name == "v2" and .done == 4)] | length) == 1'; }
for i in 1 2 3 4; do fleet_wait "agent $i sees 4 done" 15 all_done "$i"; done
pass
