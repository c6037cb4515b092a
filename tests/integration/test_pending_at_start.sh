#!/usr/bin/env bash
# A pending upgrade-info.json is applied before the first start: the old binary never runs past
# its upgrade. With its binary missing, nothing starts until the binary is there.
source "$(dirname "$0")/lib.sh"

init_genesis v1.0.0
install_upgrade v2 v2.0.0
write_upgrade_info '{"name":"v2","height":10}'
start_agent
wait_for "node started" 10 node_started 1
started_is 1 v2.0.0 || fail "first start was $(started_version 1), not v2"
current_is upgrades/v2 || fail "current is $(current_target)"
stop_agent

# the same, with the binary of the next upgrade missing
write_upgrade_info '{"name":"v3","height":20}'
start_agent
wait_for "the missing binary is reported" 10 agent_log_has "upgrade binary is missing"
[ "$(events_count event start)" -eq 1 ] || fail "an old binary was started past its upgrade"
install_upgrade v3 v3.0.0
wait_for "v3 started" 20 node_started 2
started_is 2 v3.0.0 || fail "second start was $(started_version 2)"
pass
