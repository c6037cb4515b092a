#!/usr/bin/env bash
# Pre-upgrade scripts: the environment they see; the custom one then upgrades/<name>/pre-upgrade;
# a failing one retried until it succeeds; exit 30 fails at once and rolls back; a hang is killed.
source "$(dirname "$0")/lib.sh"
export DAEMON_PREUPGRADE_MAX_RETRIES=3 UNSAFE_SKIP_BACKUP=true

cat >"$T/custom.sh" <<SH
#!/bin/sh
env | grep -E '^(DAEMON_HOME|DAEMON_NAME|UPGRADE_NAME|UPGRADE_HEIGHT|UPGRADE_INFO)=' | sort >"$T/env.\$UPGRADE_NAME"
echo custom >>"$T/order"
n=\$(cat "$T/count.\$UPGRADE_NAME" 2>/dev/null || echo 0); n=\$((n + 1)); echo \$n >"$T/count.\$UPGRADE_NAME"
case "\$UPGRADE_NAME" in
  v2) [ \$n -ge 3 ] || { echo "not yet (\$n)"; exit 1; } ;;
  v3) exit 30 ;;
esac
exit 0
SH
chmod +x "$T/custom.sh"
export COSMOVISOR_CUSTOM_PREUPGRADE="$T/custom.sh"

init_genesis v1.0.0
install_upgrade v2 v2.0.0
printf '#!/bin/sh\necho upgrade-dir >>"%s/order"\n' "$T" >"$DAEMON_HOME/wemixvisor/upgrades/v2/pre-upgrade"
chmod +x "$DAEMON_HOME/wemixvisor/upgrades/v2/pre-upgrade"
start_agent
wait_for "node started" 10 node_started 1

# retried twice, then fine; both scripts, custom first; the environment
write_upgrade_info '{"name":"v2","height":5,"info":{"note":"x"}}'
# while the pipeline holds the node (a hook is being retried), control commands are refused
wait_for "a retry" 20 agent_log_has "pre-upgrade script failed; retrying"
set +e
out=$("$WEMIXVISOR" stop 2>&1)
rc=$?
set -e
[ "$rc" -eq 1 ] && grep -q "upgrade v2 is in progress (step hooks)" <<<"$out" || fail "stop during the pipeline: $rc $out"
wait_for "v2 started" 30 started_is 2 v2.0.0
[ "$(cat "$T/count.v2")" = 3 ] || fail "custom script ran $(cat "$T/count.v2") times"
[ "$(tr '\n' ' ' <"$T/order")" = "custom custom custom upgrade-dir " ] || fail "order: $(cat "$T/order")"
grep -qx "DAEMON_HOME=$DAEMON_HOME" "$T/env.v2" || fail "env: $(cat "$T/env.v2")"
grep -qx "DAEMON_NAME=wemixd" "$T/env.v2" || fail "env name"
grep -qx "UPGRADE_NAME=v2" "$T/env.v2" || fail "env upgrade name"
grep -qx "UPGRADE_HEIGHT=5" "$T/env.v2" || fail "env height"
grep -qx 'UPGRADE_INFO={"note":"x"}' "$T/env.v2" || fail "env info: $(cat "$T/env.v2")"
agent_log_has "pre-upgrade script failed; retrying" || fail "retries not logged"

# exit 30: no retry, rolled back to v2, recorded as failed
install_upgrade v3 v3.0.0
write_upgrade_info '{"name":"v3","height":6}'
wait_for "v3 failed" 30 journal_has_failed v3
[ "$(cat "$T/count.v3")" = 1 ] || fail "exit 30 was retried"
current_is upgrades/v2 || fail "current is $(current_target) after the rollback"
wait_for "node left stopped" 10 status_is .state stopped
agent_log_has "upgrade rolled back" || fail "rollback not logged"
pass
