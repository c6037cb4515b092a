#!/usr/bin/env bash
# Restart latency: the node's exit -> the new node's exec, over N restarts, under wemixvisor and,
# as the baseline in the same run, under the simplest supervisor there is: `while :; do node; done`.
# Both timestamps come from the fake node (its exit event, right before _exit; its start event,
# first thing after exec). Prints one JSON object per supervisor.
set -euo pipefail
: "${WEMIXVISOR:?path to wemixvisor}" "${FAKENODE:?path to fakenode}"
N=${N:-20}
STEP=0.1 # how often the wait for enough restarts looks

# stats MODE EVENTS: median/p99 of (start[i+1] - exit[i]) in ms over the first N restarts.
stats() {
  jq -s --arg mode "$1" --argjson n "$N" '
    [.[] | select(.event == "exit" or .event == "start")] as $ev
    | [range(0; ($ev | length) - 1) as $i | select($ev[$i].event == "exit" and $ev[$i + 1].event == "start")
       | (($ev[$i + 1].t_ns - $ev[$i].t_ns) / 1e6)] | .[:$n] | sort
    | {mode: $mode, n: length,
       median_ms: (if length % 2 == 1 then .[(length - 1) / 2] else (.[length / 2 - 1] + .[length / 2]) / 2 end),
       p99_ms: .[((length * 0.99) | ceil) - 1], min_ms: .[0], max_ms: .[-1]}' "$2"
}

# wait_starts EVENTS COUNT
wait_starts() {
  local deadline=$((SECONDS + 120))
  until [ -f "$1" ] && [ "$(grep -c '"event":"start"' "$1")" -gt "$2" ]; do
    [ "$SECONDS" -lt "$deadline" ] || { echo "bench: timed out" >&2; exit 1; }
    sleep "$STEP"
  done
}

T=$(mktemp -d /tmp/wv-bench-restart.XXXXXX)
trap 'rm -rf "$T"' EXIT
port=$((20000 + RANDOM % 40000))
node_args=(--datadir "$T/home/data" --http.port "$port" --block-ms 50)

# wemixvisor: the node runs 1.5 s, healthy (so the restart count resets), then crashes.
export DAEMON_HOME=$T/home DAEMON_NAME=wemixd DAEMON_MAX_RESTARTS=1000 \
  DAEMON_HEALTH_CHECK_INTERVAL=200ms DAEMON_RPC_ADDRESS=127.0.0.1:$port
printf '#!/bin/sh\nexec %q --node-version v1 --crash-after 1500 "$@"\n' "$FAKENODE" >"$T/node"
chmod 0755 "$T/node"
"$WEMIXVISOR" init "$T/node" >/dev/null
"$WEMIXVISOR" --log-level warn run "${node_args[@]}" >"$T/agent.log" 2>&1 &
agent=$!
wait_starts "$T/home/data/fakenode.events" "$N"
kill -TERM "$agent"
wait "$agent" || true
stats wemixvisor "$T/home/data/fakenode.events"

# baseline: a shell loop
rm -rf "$T/home/data"
(while :; do "$T/node" "${node_args[@]}" >/dev/null 2>&1 || true; done) &
loop=$!
wait_starts "$T/home/data/fakenode.events" "$N"
kill "$loop"
pkill -f -- "--datadir $T/home/data" || true
wait "$loop" 2>/dev/null || true
stats "shell loop" "$T/home/data/fakenode.events"
