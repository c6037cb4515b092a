#!/usr/bin/env bash
# The agent's resident memory and CPU while it supervises an idle node for SECONDS (default 60),
# with the default settings (the RPC is probed every second). The supervised fake node is
# measured over the same window as the baseline. Prints one JSON object per process.
set -euo pipefail
: "${WEMIXVISOR:?path to wemixvisor}" "${FAKENODE:?path to fakenode}"
SECONDS_IDLE=${SECONDS_IDLE:-60}
STEP=0.1
T=$(mktemp -d /tmp/wv-bench-footprint.XXXXXX)
trap 'kill -TERM "$agent" 2>/dev/null || true; wait "$agent" 2>/dev/null || true; rm -rf "$T"' EXIT
port=$((20000 + RANDOM % 40000))
export DAEMON_HOME=$T/home DAEMON_NAME=wemixd DAEMON_RPC_ADDRESS=127.0.0.1:$port
printf '#!/bin/sh\nexec %q --node-version v1 "$@"\n' "$FAKENODE" >"$T/node"
chmod 0755 "$T/node"
"$WEMIXVISOR" init "$T/node" >/dev/null
"$WEMIXVISOR" --log-level warn run --datadir "$T/home/data" --http.port "$port" >"$T/agent.log" 2>&1 &
agent=$!
deadline=$((SECONDS + 20))
until [ -s "$T/home/data/fakenode.port" ]; do
  [ "$SECONDS" -lt "$deadline" ] || { echo "bench: node did not start" >&2; exit 1; }
  sleep "$STEP"
done
node=$(jq -s '[.[] | select(.event == "start")][0].pid' "$T/home/data/fakenode.events")
ticks() { awk '{ s = $0; sub(/.*\) /, "", s); split(s, f, " "); print f[12] + f[13] }' "/proc/$1/stat"; }
kib() { awk -v k="$2:" '$1 == k {print $2}' "$1"; }
hz=$(getconf CLK_TCK)
a0=$(ticks "$agent") n0=$(ticks "$node") t0=$(date +%s.%N)
sleep "$SECONDS_IDLE"
a1=$(ticks "$agent") n1=$(ticks "$node") t1=$(date +%s.%N)
for p in "wemixvisor:$agent:$a0:$a1" "fake node:$node:$n0:$n1"; do
  IFS=: read -r name pid c0 c1 <<<"$p"
  jq -n --arg name "$name" --argjson rss "$(kib "/proc/$pid/status" VmRSS)" \
    --argjson anon "$(kib "/proc/$pid/status" RssAnon)" --argjson pss "$(kib "/proc/$pid/smaps_rollup" Pss)" \
    --argjson c0 "$c0" --argjson c1 "$c1" --argjson hz "$hz" --argjson t0 "$t0" --argjson t1 "$t1" \
    '{process: $name, rss_kib: $rss, anon_kib: $anon, pss_kib: $pss,
      cpu_percent: (($c1 - $c0) / $hz / ($t1 - $t0) * 100), seconds: ($t1 - $t0)}'
done
