#!/usr/bin/env bash
# Detection latency: upgrade-info.json written -> SIGTERM received by the node, over N upgrades,
# with inotify (WEMIXVISOR_WATCH=auto) and with 300 ms polling (WEMIXVISOR_WATCH=poll) in one run.
# Both timestamps are taken by the fake node with the same clock: right after its rename() of
# upgrade-info.json, and on receipt of SIGTERM. Prints one JSON object per mode.
set -euo pipefail
: "${WEMIXVISOR:?path to wemixvisor}" "${FAKENODE:?path to fakenode}"
N=${N:-25}
STEP=0.1 # how often the wait for the last start looks

# run_mode MODE: a chain of N upgrades v0 -> v1 -> ... -> vN under one agent.
run_mode() {
  local mode=$1 T
  T=$(mktemp -d /tmp/wv-bench.XXXXXX)
  export DAEMON_HOME=$T/home DAEMON_NAME=wemixd WEMIXVISOR_WATCH=$mode DAEMON_POLL_INTERVAL=300ms
  # Each release asks for the next upgrade 2 to 17 blocks (of 20 ms) after it starts: a random
  # phase against the poll timer, as real upgrades have.
  node() { # node PATH VERSION NEXT
    mkdir -p "$(dirname "$1")"
    printf '#!/bin/sh\nexec %q --node-version %q --block-ms 20 --upgrade-in %d --upgrade-name %q "$@"\n' \
      "$FAKENODE" "$2" $((2 + RANDOM % 16)) "$3" >"$1"
    chmod 0755 "$1"
  }
  node "$T/genesis" v0 u1
  "$WEMIXVISOR" init "$T/genesis" >/dev/null
  for i in $(seq 1 "$N"); do
    node "$DAEMON_HOME/wemixvisor/upgrades/u$i/bin/wemixd" "v$i" "u$((i + 1))"
  done
  "$WEMIXVISOR" --log-level warn run --datadir "$DAEMON_HOME/data" --http.port 0 >"$T/agent.log" 2>&1 &
  local pid=$! deadline=$((SECONDS + 120))
  local events="$DAEMON_HOME/data/fakenode.events"
  # done when the last version has started
  until [ -f "$events" ] && grep -q "\"version\":\"v$N\"" "$events"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "bench: timed out in mode $mode" >&2
      kill -TERM "$pid"
      exit 1
    fi
    sleep "$STEP"
  done
  kill -TERM "$pid"
  wait "$pid" || true
  # pair each upgrade-info-written with the next sigterm, in ms
  # (the last release asks for an upgrade that does not exist: only the first N pairs count)
  jq -s --arg mode "$mode" --argjson n "$N" '
    [ . as $ev | range(0; length) as $i | $ev[$i] | select(.event == "upgrade-info-written")
      | . as $w | ([$ev[$i:][] | select(.event == "sigterm")][0].t_ns) as $t
      | select($t != null) | (($t - $w.t_ns) / 1e6) ] | .[:$n] | sort
    | {mode: $mode, n: length,
       median_ms: (if length % 2 == 1 then .[(length - 1) / 2] else (.[length / 2 - 1] + .[length / 2]) / 2 end),
       p99_ms: .[((length * 0.99) | ceil) - 1],
       min_ms: .[0], max_ms: .[-1]}' "$events"
  rm -rf "$T"
}

run_mode auto
run_mode poll
