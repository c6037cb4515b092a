#!/usr/bin/env bash
# DAEMON_LOG_FILE rotates by size and keeps DAEMON_LOG_MAX_FILES rotated files.
source "$(dirname "$0")/lib.sh"
export DAEMON_LOG_FILE="$T/logs/wemixd.log" DAEMON_LOG_MAX_SIZE=4KiB DAEMON_LOG_MAX_FILES=2

init_genesis v1.0.0 --verbose
start_agent -- --datadir "$DATA" --http.port "$RPC_PORT" --block-ms 2
wait_for "two rotations" 30 test -s "$DAEMON_LOG_FILE.2"
rotated_enough() { [ "$(node_height)" -ge 1000 ]; }
wait_for "more output" 30 rotated_enough
stop_agent # the files hold still for the checks
[ ! -e "$DAEMON_LOG_FILE.3" ] || fail "more rotated files than DAEMON_LOG_MAX_FILES"
for f in "$DAEMON_LOG_FILE" "$DAEMON_LOG_FILE.1" "$DAEMON_LOG_FILE.2"; do
  [ "$(stat -c %s "$f")" -le 4096 ] || fail "$f is larger than 4 KiB"
done
# the newest lines are in the file, older ones in .1
last=$(grep -o 'block [0-9]*' "$DAEMON_LOG_FILE" | tail -n 1 | cut -d' ' -f2)
prev=$(grep -o 'block [0-9]*' "$DAEMON_LOG_FILE.1" | tail -n 1 | cut -d' ' -f2)
[ "$last" -gt "$prev" ] || fail "rotation order: $last vs $prev"
if agent_log_has "fakenode: block"; then fail "node output passed through as well"; fi
pass
