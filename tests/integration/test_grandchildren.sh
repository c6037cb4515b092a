#!/usr/bin/env bash
# Stopping the node takes its whole process group: a grandchild that ignores SIGTERM and SIGQUIT
# is killed with it, and no zombie is left behind.
source "$(dirname "$0")/lib.sh"
export DAEMON_SHUTDOWN_GRACE=300ms

# a release whose node starts a helper process that ignores polite signals
mkdir -p "$T/stage"
cat >"$T/stage/genesis" <<SH
#!/bin/sh
case "\$1" in version) exec "$FAKENODE" --node-version v1.0.0 version ;; esac
sh -c 'trap "" TERM QUIT; echo \$\$ > "$T/grandchild.pid"; exec tail -f /dev/null' &
exec "$FAKENODE" --node-version v1.0.0 --ignore-sigterm --ignore-sigquit "\$@"
SH
chmod 0755 "$T/stage/genesis"
"$WEMIXVISOR" init "$T/stage/genesis" >/dev/null
start_agent
wait_for "node started" 10 node_started 1
wait_for "grandchild started" 10 test -s "$T/grandchild.pid"
gc=$(cat "$T/grandchild.pid")
kill -0 "$gc" || fail "no grandchild"

"$WEMIXVISOR" stop >/dev/null
wait_for "stopped" 20 status_is .state stopped
agent_log_has "sending SIGKILL" || fail "no SIGKILL after the grace"
gone() { ! kill -0 "$gc" 2>/dev/null; }
wait_for "grandchild gone" 10 gone
[ -z "$(zombies_of "$AGENT_PID")" ] || fail "zombies left: $(zombies_of "$AGENT_PID")"

# and when the node exits politely, what is left of its group goes too
export DAEMON_SHUTDOWN_GRACE=10s
cat >"$T/stage/v2" <<SH
#!/bin/sh
case "\$1" in version) exec "$FAKENODE" --node-version v2.0.0 version ;; esac
sh -c 'trap "" TERM; echo \$\$ > "$T/grandchild2.pid"; exec tail -f /dev/null' &
exec "$FAKENODE" --node-version v2.0.0 "\$@"
SH
chmod 0755 "$T/stage/v2"
mkdir -p "$DAEMON_HOME/wemixvisor/upgrades/v2/bin"
cp "$T/stage/v2" "$DAEMON_HOME/wemixvisor/upgrades/v2/bin/wemixd"
"$WEMIXVISOR" start >/dev/null
write_upgrade_info '{"name":"v2","height":10}'
wait_for "v2 started" 30 last_started_is v2.0.0
wait_for "grandchild 2 started" 10 test -s "$T/grandchild2.pid"
gc2=$(cat "$T/grandchild2.pid")
wait_for "upgrade verified" 20 journal_has_applied v2 # control waits for the pipeline to end
"$WEMIXVISOR" stop >/dev/null
wait_for "stopped" 20 status_is .state stopped
gone2() { ! kill -0 "$gc2" 2>/dev/null; }
wait_for "grandchild 2 gone" 10 gone2
agent_log_has "killing what is left of the node's process group" || fail "sweep not logged"
[ -z "$(zombies_of "$AGENT_PID")" ] || fail "zombies left: $(zombies_of "$AGENT_PID")"
pass
