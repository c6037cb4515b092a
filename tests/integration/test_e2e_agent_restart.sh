#!/usr/bin/env bash
# End to end: one validator's agent is SIGKILLed in the middle of the quorum-gated upgrade (its
# pre-upgrade hook is running, its node is already stopped), then started again. It resumes the
# journaled upgrade, and wvcoord reports all four validators on v2.0.0, running, past the height,
# with nothing to worry about; the killed one's data is intact.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_fleet.sh"
: "${WVCOORD:?set by ctest}"
FLEET_BLOCK_MS=150

H=45
fleet_init 4 v1.0.0 --stop-at $((H - 1))
for i in 1 2 3 4; do fleet_schedule "$i" v2 "$H"; fleet_install "$i" v2 v2.0.0; done
# agent 2's hook says it runs, then takes its time: the moment to kill the agent
hook="$(fleet_home 2)/wemixvisor/upgrades/v2/pre-upgrade"
printf '#!/bin/sh\ntouch "%s/hook-ran"\nexec sleep 30\n' "$T" >"$hook"
chmod 0755 "$hook"
echo "precious" >"$(fleet_home 2)/data/keep.txt"
fleet_start_all

fleet_wait "agent 2 in its pre-upgrade hook" 90 test -f "$T/hook-ran"
fleet_kill 2
# the hook is the agent's child: it must not outlive the agent by long either
rm -f "$hook" # the second run has no slow hook
fleet_start 2

AGENTS=$(for i in 1 2 3 4; do printf '%s,' "$(fleet_endpoint "$i")"; done)
export WVCOORD_AGENTS=${AGENTS%,} WEMIXVISOR_VALIDATORS=$FLEET_VALIDATORS
all_on_v2() {
  "$WVCOORD" status --json >"$T/fleet.json" 2>/dev/null
  jq -e --argjson h "$H" '(.members | length) == 4 and all(.members[]; .version == "v2.0.0" and .node == "running" and .height > $h)
       and .problems == []' "$T/fleet.json" >/dev/null
}
fleet_wait "wvcoord: all four on v2.0.0 past height $H" 90 all_on_v2
for i in 1 2 3 4; do fleet_applied "$i" v2 || fleet_fail "agent $i did not record v2"; done
fleet_log_has 2 "resuming" || fleet_fail "agent 2 did not resume the journaled upgrade"
[ "$(cat "$(fleet_home 2)/data/keep.txt")" = precious ] || fleet_fail "agent 2's data changed"
jq -e '.step == null' "$(fleet_home 2)/wemixvisor/state.json" >/dev/null || fleet_fail "a step is left in agent 2's journal"
pass
