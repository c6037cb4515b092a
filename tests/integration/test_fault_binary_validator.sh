#!/usr/bin/env bash
# shellcheck disable=SC2119 # fleet_start_all passes its arguments on to the nodes
# Fault, with validators: four agents are armed for v2 (a quorum ready for the same sha256); then
# agent 1's binary is replaced by another file before the height. The quorum votes on the sha256,
# so the new file becomes agent 1's vote (an operator may replace a wrong binary on purpose,
# docs/operator.md) and its arming starts over: nobody else votes for that file, so agent 1 is
# blocked at the height and is never switched to it, while the other three upgrade. With the
# right binary back, agent 1 arms again (the others' done votes) and upgrades at once.
#
# What the operator sees on agent 1:
#   log: "upgrade binary changed after it was verified; the vote is now for the new binary, and
#     the quorum decides" (warning, with was_sha256= and sha256=), then "upgrade blocked: too few
#     validators are ready; ..." at the height.
#   `wemixvisor status --json`: .pending_upgrade.waiting_for "blocked: 1/4 ready, need 3".
# End state: every agent consistent on upgrades/v2 running v2.0.0; agent 1's old node stopped at
# H - 1 (it stalls there) and the other file was never started.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_fleet.sh"

H=80
fleet_init 4 v1.0.0 --stop-at $((H - 1))
for i in 1 2 3 4; do
  fleet_schedule "$i" v2 "$H"
  fleet_install "$i" v2 v2.0.0
done
fleet_start_all
fleet_wait "agent 1 armed" 30 fleet_log_has 1 "armed: a quorum of validators is ready"

make_node "$T/stage/other" v2.0.0-other
BIN1="$(fleet_home 1)/wemixvisor/upgrades/v2/bin/$DAEMON_NAME"
cp "$T/stage/other" "$BIN1.new"
mv "$BIN1.new" "$BIN1"
fleet_wait "agent 1 votes for the new file" 10 fleet_log_has 1 "the vote is now for the new binary"

for i in 2 3 4; do fleet_wait "v2 applied on agent $i" 60 fleet_applied "$i" v2; done
fleet_wait "agent 1 blocked at the height" 20 fleet_waiting_has 1 "blocked: 1/4 ready, need 3"
fleet_current_is 1 genesis || fleet_fail "agent 1 switched to the file nobody voted for"
[ "$(fleet_starts 1)" -eq 1 ] || fleet_fail "agent 1 started $(fleet_start_field 1 2 version)"

fleet_install 1 v2 v2.0.0
fleet_wait "v2 applied on agent 1" 30 fleet_applied 1 v2
[ "$(fleet_start_field 1 2 height)" = $((H - 1)) ] || fleet_fail "agent 1: old node stopped at $(fleet_start_field 1 2 height)"
for i in 1 2 3 4; do fleet_assert_consistent "$i" upgrades/v2 v2.0.0; done
pass
