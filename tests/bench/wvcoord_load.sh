#!/usr/bin/env bash
# wvcoord under the load of a large fleet: `wvcoord serve` subscribed to one wvload that simulates
# AGENTS validator agents (default 200), each publishing its signed STATE once a second.
# Once every agent is heard and a warm-up has passed, over WINDOW seconds (default 30) of steady
# state, with no HTTP request: wvcoord's CPU (utime + stime of /proc/<pid>/stat, % of one core),
# its memory (VmRSS, RssAnon of /proc/<pid>/status; VmHWM at the very end) and its counters
# (/api/fleet: messages_in, received, dropped), and the same CPU and memory of wvload, the
# baseline: it signs every message wvcoord verifies. Then, still under load, REQUESTS (default 50)
# GETs each of /api/fleet and of /healthz (the trivial handler on the same server, the baseline),
# alternating, timed by curl's time_total; then wvcoord's CPU time per request (all its threads'
# schedstat) over CPU_REQUESTS (default 100) back-to-back GETs of each path on one connection,
# with wvload paused for that moment. Prints one JSON object for the traffic, per path and per
# process.
# Env: WVCOORD, WVLOAD (paths), LOAD_AGENTS, LOAD_WINDOW, LOAD_REQUESTS, LOAD_CPU_REQUESTS,
# LOAD_WARMUP (5 s).
set -euo pipefail
: "${WVCOORD:?path to wvcoord}" "${WVLOAD:?path to wvload}"
AGENTS=${LOAD_AGENTS:-200}
WINDOW=${LOAD_WINDOW:-30}
REQUESTS=${LOAD_REQUESTS:-50}
CPU_REQUESTS=${LOAD_CPU_REQUESTS:-100}
WARMUP=${LOAD_WARMUP:-5}
CHAIN=wv-bench
STEP=0.1
T=$(mktemp -d /tmp/wv-bench-wvcoord.XXXXXX)
load='' coord=''
# Both processes are ours, ended by pid.
finish() {
  local p
  [ "${paused:-0}" = 0 ] || kill -CONT "$load" 2>/dev/null || true
  for p in $coord $load; do kill -TERM "$p" 2>/dev/null || true; done
  for p in $coord $load; do wait "$p" 2>/dev/null || true; done
  rm -rf "$T"
}
trap finish EXIT
trap 'exit 130' INT TERM

die() {
  echo "bench: wvcoord load: $*" >&2
  tail -n 5 "$T/load.log" "$T/coord.log" >&2 2>/dev/null || true
  exit 1
}

# A free TCP port below the ephemeral range (curl's connections take ports from that range).
read -r EPHEMERAL_LOW _ </proc/sys/net/ipv4/ip_local_port_range
PORT_LOW=$((EPHEMERAL_LOW > 16384 ? EPHEMERAL_LOW / 2 : 1024))
port() {
  local p
  while :; do
    p=$((PORT_LOW + RANDOM % (EPHEMERAL_LOW - PORT_LOW)))
    [ "$p" != "${1:-}" ] && ! ss -Htln "sport = :$p" 2>/dev/null | grep -q . && break
  done
  echo "$p"
}
pub=$(port)
http=$(port "$pub")
url=http://127.0.0.1:$http

"$WVLOAD" --bind "tcp://127.0.0.1:$pub" --agents "$AGENTS" --period 1s --chain "$CHAIN" \
  --keys-out "$T/keys" 2>"$T/load.log" &
load=$!
deadline=$((SECONDS + 30))
until [ -s "$T/keys" ]; do
  kill -0 "$load" 2>/dev/null || die "wvload exited"
  [ "$SECONDS" -lt "$deadline" ] || die "wvload wrote no keys in 30 s"
  sleep "$STEP"
done
"$WVCOORD" --log-level warn serve --listen "127.0.0.1:$http" --agents "tcp://127.0.0.1:$pub" \
  --chain "$CHAIN" --validators "$(cat "$T/keys")" --heartbeat 1s >"$T/coord.log" 2>&1 &
coord=$!
deadline=$((SECONDS + 30))
until [ "$(curl -sf "$url/healthz" | jq -r '.heard' 2>/dev/null)" = "$AGENTS" ]; do
  kill -0 "$coord" 2>/dev/null || die "wvcoord exited"
  [ "$SECONDS" -lt "$deadline" ] || die "wvcoord does not hear all $AGENTS agents after 30 s"
  sleep "$STEP"
done
sleep "$WARMUP"

ticks() { # utime + stime, in clock ticks
  awk '{ s = $0; sub(/.*\) /, "", s); split(s, f, " "); print f[12] + f[13] }' "/proc/$1/stat"
}
# CPU time of all the threads of a process in ns (schedstat: finer than the ticks of stat).
cpu_ns() { cat /proc/"$1"/task/*/schedstat | awk '{ n += $1 } END { printf "%.0f\n", n }'; }
kib() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
counters() {
  local t js
  t=$(date +%s.%N)
  js=$(curl -sf "$url/api/fleet") || return 1
  jq -c --argjson t "$t" '{t: $t, messages_in, received, dropped,
    heights: ([.members[].height] | add),
    silent: ([.members[] | select(.silent)] | length)}' <<<"$js"
}
hz=$(getconf CLK_TCK)
# The window: the two counter reads are its only requests.
f0=$(counters) || die "no /api/fleet"
c0=$(ticks "$coord") l0=$(ticks "$load") t0=$(date +%s.%N)
sleep "$WINDOW"
c1=$(ticks "$coord") l1=$(ticks "$load") t1=$(date +%s.%N)
f1=$(counters) || die "no /api/fleet"
# memory at the end of the window (the peak, VmHWM, is read at the very end, after the requests)
procs=()
for p in "wvcoord:$coord:$c0:$c1" "wvload:$load:$l0:$l1"; do
  IFS=: read -r name pid a b <<<"$p"
  procs+=("$(jq -nc --arg name "$name" --argjson rss "$(kib "$pid" VmRSS)" \
    --argjson anon "$(kib "$pid" RssAnon)" --argjson pid "$pid" --argjson a "$a" --argjson b "$b" \
    --argjson hz "$hz" --argjson t0 "$t0" --argjson t1 "$t1" \
    '{kind: "process", process: $name, pid: $pid, rss_kib: $rss, anon_kib: $anon,
      cpu_percent: (($b - $a) / $hz / ($t1 - $t0) * 100), seconds: ($t1 - $t0)}')")
done
# wvload's heights grow by one per STATE sent, so the heights wvcoord holds count what was sent
# between the two reads, exactly: sent - messages_in is what got lost on the way.
jq -nc --argjson a "$f0" --argjson b "$f1" --argjson n "$AGENTS" '($b.t - $a.t) as $dt
  | {kind: "traffic", agents: $n, window_s: $dt, offered_per_s: $n, sent: ($b.heights - $a.heights),
     messages_in: ($b.messages_in - $a.messages_in), received: ($b.received - $a.received),
     messages_in_per_s: (($b.messages_in - $a.messages_in) / $dt),
     dropped: ([$b.dropped | keys[] as $k | {($k): ($b.dropped[$k] - $a.dropped[$k])}] | add),
     silent: $b.silent}'

# Latency, still under load: the two paths alternate, so both see the same conditions.
: >"$T/times"
for ((i = 0; i < REQUESTS; i++)); do
  for path in /api/fleet /healthz; do
    curl -sf -o /dev/null -w "$path %{time_total} %{size_download}\n" "$url$path" >>"$T/times" ||
      die "GET $path failed"
  done
done
kill -0 "$coord" 2>/dev/null || die "wvcoord exited"
# CPU per request: wvcoord's CPU time over CPU_REQUESTS back-to-back GETs of one path (one curl,
# one keep-alive connection; the handlers ignore the query that makes the URLs distinct), with
# wvload paused (SIGSTOP) so that no message is verified meanwhile. The pause must stay shorter
# than the 3 heartbeats after which members are shown silent (that would change the document):
# a path whose phase ran into them gets null.
# wait_until WHAT SECONDS COMMAND...: polls COMMAND every STEP until it succeeds, or dies.
wait_until() {
  local what=$1 deadline=$((SECONDS + $2))
  shift 2
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || die "timed out waiting for: $what"
    sleep "$STEP"
  done
}
# drained: wvcoord's count of messages in stopped moving (all that wvload queued is verified)
last_in=-1
drained() {
  local now
  now=$(curl -sf "$url/api/fleet" | jq '.messages_in') || return 1
  [ "$now" = "$last_in" ] && return 0
  last_in=$now
  return 1
}
# all_fresh: every member heard within the last second (wvload caught up after a pause)
all_fresh() {
  curl -sf "$url/api/fleet" | jq -e 'all(.members[]; .heard_ms_ago != null and .heard_ms_ago < 1000)' >/dev/null
}
kill -STOP "$load"
paused=1
last_in=-1
wait_until "wvcoord to verify what is queued" 5 drained
echo '{}' >"$T/cpu"
for path in /api/fleet /healthz; do
  t0=$(date +%s.%N) a=$(cpu_ns "$coord")
  curl -sf "$url$path?[1-$CPU_REQUESTS]" >/dev/null || die "GET $path failed" # one connection
  b=$(cpu_ns "$coord") t1=$(date +%s.%N)
  jq -c --arg p "$path" --argjson a "$a" --argjson b "$b" --argjson n "$CPU_REQUESTS" \
    --argjson late "$(jq -n --argjson t0 "$t0" --argjson t1 "$t1" '$t1 - $t0 > 2.5')" \
    '. + {($p): (if $late then null else ($b - $a) / 1e6 / $n end)}' "$T/cpu" >"$T/cpu.new"
  mv "$T/cpu.new" "$T/cpu"
  kill -CONT "$load"
  wait_until "every member fresh again" 10 all_fresh
  kill -STOP "$load"
  last_in=-1
  wait_until "wvcoord to verify what is queued" 5 drained
done
kill -CONT "$load"
paused=0
for path in /api/fleet /healthz; do
  awk -v p="$path" '$1 == p {print $2 * 1000, $3}' "$T/times" | jq -Rsc --arg path "$path" \
    --slurpfile cpu "$T/cpu" '
    [split("\n")[] | select(length > 0) | split(" ") | map(tonumber)] as $r
    | ($r | map(.[0]) | sort) as $s
    | {kind: "latency", path: $path, n: ($s | length),
       median_ms: (if ($s | length) % 2 == 1 then $s[($s | length - 1) / 2]
                   else ($s[($s | length) / 2 - 1] + $s[($s | length) / 2]) / 2 end),
       p99_ms: $s[(($s | length) * 0.99 | ceil) - 1], min_ms: $s[0], max_ms: $s[-1],
       bytes: ($r | map(.[1]) | add / length | round), cpu_ms: $cpu[0][$path]}'
done
for p in "${procs[@]}"; do
  hwm=$(kib "$(jq -r .pid <<<"$p")" VmHWM)
  jq -c --argjson hwm "$hwm" '. + {hwm_kib: $hwm} | del(.pid)' <<<"$p"
done
