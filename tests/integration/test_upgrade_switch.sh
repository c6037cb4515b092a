#!/usr/bin/env bash
# The node writes upgrade-info.json at its height and stalls; the agent stops it, switches
# current to upgrades/v2 and starts v2 with the same arguments.
source "$(dirname "$0")/lib.sh"

init_genesis v1.0.0 --upgrade-in 5 --upgrade-name v2 --on-upgrade stall
install_upgrade v2 v2.0.0
start_agent
wait_for "v2 started" 20 started_is 2 v2.0.0
current_is upgrades/v2 || fail "current is $(current_target)"
[ "$(events_count event sigterm)" -eq 1 ] || fail "v1 was not stopped with SIGTERM"
wait_for "journal records v2" 20 journal_has_applied v2
# the node's own arguments are the last 6 (before them: the flags baked into each release)
a1=$(jq -c -s '[.[] | select(.event == "start")][0].argv[-6:]' "$EVENTS")
a2=$(jq -c -s '[.[] | select(.event == "start")][1].argv[-6:]' "$EVENTS")
[ "$a1" = "$a2" ] || fail "v2 got other arguments: $a2 vs $a1"
h=$(node_height)
wait_for "v2 producing blocks" 10 height_at_least $((h + 3))

# an agent restart does not apply the same upgrade-info.json again
stop_agent
start_agent
wait_for "node started again" 10 node_started 3
started_is 3 v2.0.0 || fail "restart started $(started_version 3)"
if grep -q "upgrade applied" "$AGENT_LOG"; then fail "the old upgrade-info.json was applied twice"; fi
pass
