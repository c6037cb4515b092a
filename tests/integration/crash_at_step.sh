#!/usr/bin/env bash
# Crash safety: the agent is killed with SIGKILL right after it journals STEP (a fault point of
# the test build), then started again. Every case must end consistent: fully upgraded, or (for
# "restoring", an upgrade that fails) fully back on the previous binary with the data as it was.
# Usage: crash_at_step.sh STEP   (ready stopping backing-up hooks switching starting verifying
#                                 done restoring)
source "$(dirname "$0")/lib.sh"
STEP=${1:?step}
TEST_NAME="crash_at_$STEP"
export DAEMON_HEALTH_CHECK_INTERVAL=300ms DAEMON_SHUTDOWN_GRACE=2s
printf '#!/bin/sh\nexit 0\n' >"$T/hook.sh"
chmod +x "$T/hook.sh"
export COSMOVISOR_CUSTOM_PREUPGRADE="$T/hook.sh"

failing=false
[ "$STEP" = restoring ] && failing=true
init_genesis v1.0.0 --upgrade-in 4 --upgrade-name v2
if $failing; then
  install_upgrade v2 v2.0.0 --crash-after 30
else
  install_upgrade v2 v2.0.0
fi
mkdir -p "$DATA/chaindata"
head -c 200000 /dev/urandom >"$DATA/chaindata/000001.ldb"
cp "$DATA/chaindata/000001.ldb" "$T/chain.orig"

WEMIXVISOR_FAULT=$STEP start_agent
wait_quiet_exit "$AGENT_PID" 60 || fail "the agent did not die at $STEP"
set +e
wait "$AGENT_PID"
rc=$?
set -e
[ "$rc" -eq 137 ] || fail "the agent exited $rc, not by SIGKILL at $STEP"
AGENT_PID=
cp "$DAEMON_HOME/wemixvisor/state.json" "$T/state.at-crash.json"

mv "$AGENT_LOG" "$AGENT_LOG.1"
start_agent
if $failing; then
  wait_for "rolled back" 60 journal_has_failed v2
  wait_for "left stopped" 20 status_is .state stopped
  current_is genesis || fail "current is $(current_target)"
else
  wait_for "upgraded" 60 journal_has_applied v2
  wait_for "v2 running" 20 last_started_is v2.0.0
  current_is upgrades/v2 || fail "current is $(current_target)"
  [ "$(jq '[.applied[].name] | map(select(. == "v2")) | length' "$DAEMON_HOME/wemixvisor/state.json")" -eq 1 ] ||
    fail "v2 applied more than once"
  node_count_is 1 || fail "nodes running: $(node_pids | wc -l)"
fi
wait_for "journal settled" 20 jq -e '.step == null' "$DAEMON_HOME/wemixvisor/state.json"
cmp -s "$T/chain.orig" "$DATA/chaindata/000001.ldb" || fail "chain data changed"
pass
