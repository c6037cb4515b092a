#!/usr/bin/env bash
# Two successive upgrades: genesis -> v2 -> v3, each written by the running node at its height.
source "$(dirname "$0")/lib.sh"

init_genesis v1.0.0 --upgrade-in 4 --upgrade-name v2 --on-upgrade stall
install_upgrade v2 v2.0.0 --upgrade-in 4 --upgrade-name v3 --on-upgrade exit
install_upgrade v3 v3.0.0
start_agent
wait_for "v3 started" 30 started_is 3 v3.0.0
started_is 2 v2.0.0 || fail "second start was $(started_version 2)"
current_is upgrades/v3 || fail "current is $(current_target)"
applied_v2_v3() { jq -e '[.applied[].name] == ["v2", "v3"]' "$DAEMON_HOME/wemixvisor/state.json" >/dev/null; }
wait_for "journal records v2 then v3" 20 applied_v2_v3
pass
