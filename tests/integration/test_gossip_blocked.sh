#!/usr/bin/env bash
# shellcheck disable=SC2119 # fleet_start_all passes its arguments on to the nodes
# Two of four validators have the upgrade binary: no quorum (3) is ever ready, so at the height
# nobody switches. Every agent reports the upgrade blocked, "2/4 ready, need 3"; the old nodes
# keep running (the old release stalls at height - 1 by itself, alive); the two ready agents
# export the blocked phase in /metrics and in `peers --json`.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_fleet.sh"

H=30
fleet_init 4 v1.0.0 --stop-at $((H - 1))
declare -a MPORT
for i in 1 2 3 4; do
  fleet_schedule "$i" v2 "$H"
  MPORT[i]=$(free_port)
done
fleet_install 1 v2 v2.0.0
fleet_install 2 v2 v2.0.0
for i in 1 2 3 4; do WEMIXVISOR_METRICS_ADDR="127.0.0.1:${MPORT[$i]}" fleet_start "$i"; done

for i in 1 2 3 4; do fleet_wait "agent $i's node at $((H - 1))" 40 fleet_node_height_is "$i" $((H - 1)); done
for i in 1 2 3 4; do
  fleet_wait "agent $i blocked: 2/4 ready, need 3" 20 fleet_waiting_has "$i" "blocked: 2/4 ready, need 3"
done
fleet_waiting_has 3 "the binary is missing here" || fleet_fail "agent 3: $(fleet_waiting_for 3)"

# Let several heartbeats pass with everyone past the height and blocked; nothing may switch.
base=$(fleet_sent 1)
fleet_wait "heartbeats go on" 20 fleet_sent_at_least 1 $((base + 10))

for i in 1 2 3 4; do
  fleet_waiting_has "$i" "blocked: 2/4 ready, need 3" || fleet_fail "agent $i: $(fleet_waiting_for "$i")"
  fleet_current_is "$i" genesis || fleet_fail "agent $i switched: current $(readlink "$(fleet_home "$i")/wemixvisor/current")"
  [ "$(fleet_starts "$i")" -eq 1 ] || fleet_fail "agent $i: the node was restarted ($(fleet_starts "$i") starts)"
  fleet_node_alive "$i" || fleet_fail "agent $i: the old node is not running"
  [ "$(fleet_status "$i" .state)" = running ] || fleet_fail "agent $i: node state $(fleet_status "$i" .state)"
  [ "$(fleet_status "$i" .pid)" = "$(fleet_start_field "$i" 1 pid)" ] || fleet_fail "agent $i: node pid changed"
  ! grep -q '"event":"sigterm"' "$(fleet_events "$i")" || fleet_fail "agent $i: the node was sent SIGTERM"
  ! fleet_log_has "$i" "step=stopping" || fleet_fail "agent $i: the pipeline stopped the node"
  ! fleet_log_has "$i" "armed:" || fleet_fail "agent $i: armed"
  ! fleet_applied "$i" v2 || fleet_fail "agent $i: v2 recorded as applied"
done
for i in 1 2; do
  fleet_log_has "$i" "upgrade blocked: too few validators are ready" || fleet_fail "agent $i: blocked not logged"
  fleet_phase_is "$i" v2 blocked || fleet_fail "agent $i: phase $(fleet_phase "$i" v2)"
  m=$(curl -sf "http://127.0.0.1:${MPORT[$i]}/metrics") || fleet_fail "agent $i: GET /metrics failed"
  grep -qx 'wemixvisor_upgrade_blocked{upgrade="v2"} 1' <<<"$m" || fleet_fail "agent $i: metrics: $(grep v2 <<<"$m")"
  grep -qx 'wemixvisor_upgrade_armed{upgrade="v2"} 0' <<<"$m" || fleet_fail "agent $i: metrics armed: $(grep v2 <<<"$m")"
  grep -qx 'wemixvisor_quorum_ready{upgrade="v2"} 2' <<<"$m" || fleet_fail "agent $i: metrics ready: $(grep v2 <<<"$m")"
  grep -qx 'wemixvisor_quorum_size 3' <<<"$m" || fleet_fail "agent $i: metrics quorum size"
done
# the two without the binary do not vote (no binary, no vote), and say why
for i in 3 4; do
  fleet_phase_is "$i" v2 waiting || fleet_fail "agent $i: phase $(fleet_phase "$i" v2)"
  fleet_log_has "$i" "upgrade binary is missing" || fleet_fail "agent $i: missing binary not logged"
done
# everyone's view of the voted triple: 2 ready, quorum 3, 2 blocked, no quorum
for i in 1 2 3 4; do
  fleet_peers_json "$i" | jq -e '[.upgrades[] | select(.name == "v2" and .ready > 0)] |
      length == 1 and (.[0] | .ready == 2 and .quorum == 3 and .blocked == 2 and
      (.quorum_reached | not) and (.reasons | length) >= 2 and
      all(.reasons[]; contains("2/4 ready, need 3")))' >/dev/null ||
    fleet_fail "agent $i's view: $(fleet_peers_json "$i" | jq -c .upgrades)"
done
pass
