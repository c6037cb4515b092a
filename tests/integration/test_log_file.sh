#!/usr/bin/env bash
# DAEMON_LOG_FILE: the node's output goes to the file (created with its directory), not through
# the agent's own output.
source "$(dirname "$0")/lib.sh"
export DAEMON_LOG_FILE="$T/logs/node/wemixd.log"

init_genesis v1.0.0
start_agent
wait_for "node output in the log file" 10 grep -q "fakenode v1.0.0 started" "$DAEMON_LOG_FILE"
if agent_log_has "fakenode v1.0.0 started"; then fail "node output also passed through"; fi
[ "$(stat -c %a "$DAEMON_LOG_FILE")" = 640 ] || fail "log file mode $(stat -c %a "$DAEMON_LOG_FILE")"
stop_agent
pass
