#!/usr/bin/env bash
# shellcheck disable=SC2119 # fleet_start_all passes its arguments on to the nodes
# A rolling upgrade while one of four validators is down (its agent stopped just before): n - q = 1
# may be down, and that one is, so the other three arm but take no restart slot. Once it is back,
# they all switch, one at a time. The one down is the lowest key: once back it is first in the
# queue, the hard case (the others must not take the slot it is about to take).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_fleet.sh"

H=100000
fleet_init 4 v1.0.0
fleet_start_all
for i in 1 2 3 4; do fleet_wait "agent $i hears the 3 others" 30 fleet_live_is "$i" 3; done
low=1
for i in 2 3 4; do [[ "${KEY[$i]}" < "${KEY[$low]}" ]] && low=$i; done
others=()
for i in 1 2 3 4; do [ "$i" -eq "$low" ] || others+=("$i"); done

fleet_stop "$low"
for i in 1 2 3 4; do
  fleet_install "$i" v2 v2.0.0 # the binary first, as `upgrade schedule` wants it
  fleet_schedule "$i" v2 "$H" rolling
done
slot_held() { fleet_waiting_has "$1" "1 validator down or switching, 0 of 1 restart slots free"; }
took_slot() { fleet_log_has "$1" "name=v2 step=stopping"; }
no_slot_taken() {
  local i
  for i in "${others[@]}"; do
    ! took_slot "$i" ||
      fleet_fail "agent $i stopped its node for v2 while agent $low was down: $(grep -h 'restart slot\|name=v2 step=stopping' "$(fleet_log "$i")" | head -3 | tr '\n' ' ')"
  done
}
armed_or_took() { fleet_phase_is "$1" v2 armed || took_slot "$1"; }
for i in "${others[@]}"; do fleet_wait "agent $i armed" 30 armed_or_took "$i"; done
no_slot_taken
for i in "${others[@]}"; do fleet_wait "agent $i waits for a slot" 20 slot_held "$i"; done
base=$(fleet_sent "${others[0]}")
fleet_wait "heartbeats go on" 20 fleet_sent_at_least "${others[0]}" $((base + 5))
no_slot_taken
for i in "${others[@]}"; do
  slot_held "$i" || fleet_fail "agent $i: $(fleet_waiting_for "$i")"
  fleet_current_is "$i" genesis || fleet_fail "agent $i switched while a validator is down"
done

fleet_start "$low"
for i in 1 2 3 4; do fleet_wait "v2 applied on agent $i" 60 fleet_applied "$i" v2; done
fleet_check_serial v2
pass
