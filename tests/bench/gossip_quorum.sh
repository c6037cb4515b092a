#!/usr/bin/env bash
# Gossip and quorum with N validator agents on loopback (default N = 4, 16 and 64): every agent is
# `wemixvisor run` with its own home and fake node, a full mesh (WEMIXVISOR_PEERS = all the
# others), every key in WEMIXVISOR_VALIDATORS and a 1 s heartbeat. Per fleet size it measures
#  (a) arming: an upgrade is scheduled far ahead on every agent with its binary missing; once every
#      agent hears all the others live, the identical binary is installed on every agent (one
#      rename each, all from one process). From the agents' logs: T_q = the q-th earliest
#      `step=ready` (q = N - floor((N-1)/3)), and the time from T_q to the last `armed`, in
#      heartbeats. A fresh fleet per round.
#  (b) steady state, in the last round once all are armed: the `peers --json` counters
#      (messages_in, bytes_in, sent, relayed, received, dropped) of every agent twice, WINDOW s
#      apart, per agent per second, and the agents' and fake nodes' CPU (utime + stime from
#      /proc/<pid>/stat) over the same window, as % of a core.
# If a fleet does not reach the full mesh within 30 + N/2 s, nothing else is measured at that size
# but (b) on its first 4 agents, as they are ("meshed": false).
# Agents start eight at a time, GOSSIP_START_PAUSE s apart (0.5 s; 5 s above 16 agents): on 2
# cores, 64 agents started within a few seconds fell into a relay storm that had not settled
# 15 minutes later (GOSSIP_SIZES=64 GOSSIP_START_PAUSE=0.5 shows it); started over 40 s, they
# sometimes converge and sometimes do not.
# Prints one JSON object per fleet size. Env: GOSSIP_SIZES ("4 16 64"), GOSSIP_ROUNDS (3; 1 from
# 64 agents up), GOSSIP_WINDOW (10 s), GOSSIP_KEEP=1 keeps the temp dir.
# With 64 agents a 2-core machine is busy: the loops below avoid a process per agent where they
# can (bash builtins, one jq over all files), so the bench itself does not delay the agents.
set -euo pipefail
: "${WEMIXVISOR:?path to wemixvisor}" "${FAKENODE:?path to fakenode}"
SIZES=${GOSSIP_SIZES:-4 16 64}
WINDOW=${GOSSIP_WINDOW:-10}
HB_MS=1000     # WEMIXVISOR_HEARTBEAT
BLOCK_MS=1000  # the fake nodes' block time: slow, so 64 of them leave the CPU to the agents
HEIGHT=1000000 # the upgrade's height: never reached during the bench
STEP=0.2
T=$(mktemp -d /tmp/wv-bench-gossip.XXXXXX)
export DAEMON_NAME=wemixd LC_NUMERIC=C
N=0
declare -a APID RPC GP KEY PEERS
exec {NAP_FD}<> <(:) # a pipe nobody writes to: `nap` sleeps without a process
nap() { read -r -t "$1" -u "$NAP_FD" _ || true; }

# Everything this script starts is an agent in APID or a fake node those agents started (its pid
# is in the node's events file); both are ended by pid.
stop_fleet() {
  local i p f deadline args
  for ((i = 1; i <= N; i++)); do
    [ -n "${APID[$i]:-}" ] && kill -TERM "${APID[$i]}" 2>/dev/null || true
  done
  deadline=$((SECONDS + 30))
  for ((i = 1; i <= N; i++)); do
    p=${APID[$i]:-}
    [ -n "$p" ] || continue
    while kill -0 "$p" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do nap 0.05; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
    APID[$i]=
  done
  compgen -G "$T/a*/data/fakenode.events" >/dev/null || return 0
  while read -r f p; do
    kill -0 "$p" 2>/dev/null || continue
    mapfile -d '' args <"/proc/$p/cmdline" 2>/dev/null || continue
    [[ " ${args[*]} " == *" ${f%/fakenode.events} "* ]] && kill -KILL "$p" 2>/dev/null || true
  done < <(jq -r 'select(.event == "start") | "\(input_filename) \(.pid)"' "$T"/a*/data/fakenode.events 2>/dev/null)
}
finish() {
  stop_fleet
  if [ "${GOSSIP_KEEP:-0}" = 1 ]; then echo "bench: kept $T" >&2; else rm -rf "$T"; fi
}
trap finish EXIT
trap 'exit 130' INT TERM

die() {
  echo "bench: gossip, $N agents: $*" >&2
  local i
  for ((i = 1; i <= N && i <= 3; i++)); do
    echo "--- agent $i log (last 10 lines)" >&2
    tail -n 10 "$T/a$i.log" >&2 2>/dev/null || true
  done
  exit 1
}

# ports: 2N distinct free TCP ports, below the ephemeral range: a full mesh of 64 opens about 4000
# loopback connections, whose local ports would otherwise take a node's RPC port before it binds.
read -r EPHEMERAL_LOW _ </proc/sys/net/ipv4/ip_local_port_range
PORT_LOW=$((EPHEMERAL_LOW > 16384 ? EPHEMERAL_LOW / 2 : 1024))
declare -A TAKEN LISTENING
port() {
  local p
  while :; do
    p=$((PORT_LOW + RANDOM % (EPHEMERAL_LOW - PORT_LOW)))
    [ -z "${TAKEN[$p]:-}" ] && [ -z "${LISTENING[$p]:-}" ] && break
  done
  TAKEN[$p]=1
  PORT=$p
}

# agent I CMD...: CMD with agent I's environment.
agent() {
  local i=$1
  shift
  DAEMON_HOME="$T/a$i" DAEMON_RPC_ADDRESS="127.0.0.1:${RPC[$i]}" \
    WEMIXVISOR_CHAIN_ID=wv-bench WEMIXVISOR_HEARTBEAT="${HB_MS}ms" VALIDATOR_MODE=true \
    WEMIXVISOR_LISTEN="tcp://127.0.0.1:${GP[$i]}" WEMIXVISOR_PEERS="${PEERS[$i]}" \
    WEMIXVISOR_VALIDATORS="$VALIDATORS" "$@"
}

node_script() { printf '#!/bin/sh\nexec %q --node-version %q "$@"\n' "$FAKENODE" "$2" >"$1"; chmod 0755 "$1"; }

# setup: N fresh homes with keys, the upgrade scheduled, its binary staged outside the home.
setup() {
  local i j out line
  stop_fleet
  rm -rf "${T:?}"/a* "$T"/peers "$T"/s
  TAKEN=() LISTENING=()
  for p in $(ss -Htln | awk '{ sub(/.*:/, "", $4); print $4 }'); do LISTENING[$p]=1; done
  node_script "$T/genesis" v1
  node_script "$T/v2" v2
  for ((i = 1; i <= N; i++)); do
    port && RPC[$i]=$PORT
    port && GP[$i]=$PORT
    APID[$i]=
  done
  for ((i = 1; i <= N; i++)); do
    out=
    for ((j = 1; j <= N; j++)); do
      [ "$j" -eq "$i" ] || out="${out:+$out,}tcp://127.0.0.1:${GP[$j]}"
    done
    PEERS[$i]=$out
    # `init` prints "created .../identity... (agent key HEX)": the key `wemixvisor id` prints
    out=$(DAEMON_HOME="$T/a$i" "$WEMIXVISOR" init "$T/genesis" 2>&1) || die "init $i: $out"
    line=$(grep -o 'agent key [0-9a-f]*' <<<"$out") || die "init $i printed no key: $out"
    KEY[$i]=${line#agent key }
    mkdir -p "$T/a$i/data/upgrades/$HEIGHT" "$T/a$i/stage/v2/bin"
    printf '{"name":"v2","height":%d}' "$HEIGHT" >"$T/a$i/data/upgrades/$HEIGHT/upgrade-info.json"
    cp "$T/v2" "$T/a$i/stage/v2/bin/wemixd"
  done
  [ "$(DAEMON_HOME="$T/a1" "$WEMIXVISOR" id)" = "${KEY[1]}" ] || die "the key init printed is not \`wemixvisor id\`"
  VALIDATORS=$(IFS=,; echo "${KEY[*]:1:N}")
}

# start_all: eight agents at a time, PAUSE s apart (see GOSSIP_START_PAUSE above).
start_all() {
  local i
  for ((i = 1; i <= N; i++)); do
    agent "$i" exec "$WEMIXVISOR" --log-format json run -- --datadir "$T/a$i/data" \
      --http.port "${RPC[$i]}" --block-ms "$BLOCK_MS" >"$T/a$i.log" 2>&1 &
    APID[$i]=$!
    ((i % 8 != 0 || i == N)) || nap "$PAUSE"
  done
}

# peers_to DIR DEADLINE I...: each agent's `peers --json` into DIR/I.json (empty if it does not
# answer, or once SECONDS has reached DEADLINE: a busy agent takes up to 5 s to answer).
peers_to() {
  local dir=$1 until=$2 i
  shift 2
  mkdir -p "$dir"
  for i in "$@"; do
    : >"$dir/$i.json"
    [ "$SECONDS" -lt "$until" ] || continue
    agent "$i" "$WEMIXVISOR" peers --json >"$dir/$i.json" 2>/dev/null || : >"$dir/$i.json"
  done
}
# full_of DIR I...: those of the agents that hear the N-1 others live.
full_of() {
  local dir=$1 i files=()
  shift
  for i in "$@"; do files+=("$dir/$i.json"); done
  jq -rn --argjson want $((N - 1)) 'inputs | select([.members[] | select(.live and (.self | not))] | length == $want)
    | input_filename | sub(".*/"; "") | sub("\\.json$"; "")' "${files[@]}" 2>/dev/null || true
}

# wait_mesh SECONDS: until every agent hears the N-1 others live (then once more, all of them);
# 1 if that does not happen within SECONDS.
wait_mesh() {
  local deadline=$((SECONDS + $1)) i todo=() full
  for ((i = 1; i <= N; i++)); do todo+=("$i"); done
  while :; do
    for i in "${todo[@]}"; do kill -0 "${APID[$i]}" 2>/dev/null || die "agent $i exited"; done
    peers_to "$T/peers" "$deadline" "${todo[@]}"
    declare -A ok=()
    for i in $(full_of "$T/peers" "${todo[@]}"); do ok[$i]=1; done
    full=()
    for i in "${todo[@]}"; do [ -n "${ok[$i]:-}" ] || full+=("$i"); done
    if [ ${#full[@]} -eq 0 ]; then
      [ ${#todo[@]} -eq "$N" ] && return 0
      todo=() # everyone was full at some point: check all at once
      for ((i = 1; i <= N; i++)); do todo+=("$i"); done
      continue
    fi
    todo=("${full[@]}")
    if [ "$SECONDS" -ge "$deadline" ]; then
      full=()
      for i in "${todo[@]}"; do full+=("$T/peers/$i.json"); done
      echo "bench: gossip, $N agents: after $1 s, ${#todo[@]} agents not seen to hear all others live" \
        "(live peers: $(jq -rn '[inputs | [.members[] | select(.live and (.self | not))] | length] | "min \(min), max \(max)"' \
          "${full[@]}" 2>/dev/null | head -1))" >&2
      return 1
    fi
    nap "$STEP"
  done
}

# ready and armed events of upgrade v2, as "<epoch ms> <agent> ready|armed", from every log
events() {
  jq -Rr 'fromjson? // empty
    | select((.component == "upgrade" and .msg == "step" and .step == "ready" and .name == "v2")
             or (.component == "quorum" and (.msg | startswith("armed")) and .name == "v2"))
    | ((.time | sub("\\.[0-9]+Z$"; "Z") | fromdate) * 1000 + (.time | capture("\\.(?<ms>[0-9]+)Z$").ms | tonumber))
      as $t | "\($t) \(input_filename | sub(".*/a"; "") | sub("\\.log$"; "")) \(if .component == "quorum" then "armed" else "ready" end)"' \
    "$T"/a*.log
}

# sample DIR K: agents 1..K: the CPU ticks of the agent and of its node, the agent's RSS and its
# `peers --json` (an empty file if it does not answer), at about one moment.
ticks() {
  local s f
  TICKS=0
  read -r s <"/proc/$1/stat" 2>/dev/null || return 0
  s=${s##*) }
  read -ra f <<<"$s"
  TICKS=$((f[11] + f[12]))
}
rss_of() {
  local k v
  RSS=0
  while read -r k v _; do [ "$k" = VmRSS: ] && RSS=$v && break; done <"/proc/$1/status" 2>/dev/null || true
}
sample() {
  local dir=$1 i t at
  mkdir -p "$dir"
  : >"$dir/ticks"
  for ((i = 1; i <= $2; i++)); do
    t=$EPOCHREALTIME
    ticks "${APID[$i]}" && at=$TICKS
    ticks "${NODE[$i]:-0}"
    rss_of "${APID[$i]}"
    agent "$i" "$WEMIXVISOR" peers --json >"$dir/$i.json" 2>/dev/null || : >"$dir/$i.json"
    echo "$i $t $at $TICKS $RSS" >>"$dir/ticks"
  done
}
# measure K: agents 1..K sampled twice, WINDOW s apart; per agent per second, averaged over the
# agents that answered both times.
measure() {
  local k=$1 i f p files=()
  declare -ga NODE=()
  while read -r f p; do
    f=${f%/data/fakenode.events}
    NODE[${f##*/a}]=$p
  done < <(jq -r 'select(.event == "start") | "\(input_filename) \(.pid)"' "$T"/a*/data/fakenode.events)
  rm -rf "$T/s"
  sample "$T/s/0" "$k"
  nap "$WINDOW"
  sample "$T/s/1" "$k"
  for ((i = 1; i <= k; i++)); do files+=("$T/s/0/$i.json" "$T/s/1/$i.json"); done
  jq -nc --argjson hz "$hz" --argjson k "$k" --rawfile t0 "$T/s/0/ticks" --rawfile t1 "$T/s/1/ticks" '
    def rows($s): [$s | split("\n")[] | select(length > 0) | split(" ") | map(tonumber)
      | {key: (.[0] | tostring), value: {t: .[1], at: .[2], nt: .[3], rss: .[4]}}] | from_entries;
    def counters: {messages_in, bytes_in, sent, relayed, received, dropped: ([.dropped[]] | add),
      old: .dropped.old, live: ([.members[] | select(.live and (.self | not))] | length)};
    def mean(f): map(f) | add / length;
    reduce (inputs | (input_filename | split("/")) as $f
            | {p: $f[-2], i: ($f[-1] | rtrimstr(".json")), c: counters}) as $r
      ({}; .[$r.p][$r.i] = $r.c)
    | . as $c | rows($t0) as $x | rows($t1) as $y
    | [($c["0"] // {}) | keys[] | select($c["1"][.] != null) | . as $i
       | $c["0"][$i] as $a | $c["1"][$i] as $b | ($y[$i].t - $x[$i].t) as $dt
       | {dt: $dt, messages_in: (($b.messages_in - $a.messages_in) / $dt),
          bytes_in: (($b.bytes_in - $a.bytes_in) / $dt), sent: (($b.sent - $a.sent) / $dt),
          relayed: (($b.relayed - $a.relayed) / $dt), received: (($b.received - $a.received) / $dt),
          dropped: (($b.dropped - $a.dropped) / $dt), old: (($b.old - $a.old) / $dt), live: $b.live,
          agent_cpu: (($y[$i].at - $x[$i].at) / $hz / $dt * 100),
          node_cpu: (($y[$i].nt - $x[$i].nt) / $hz / $dt * 100), rss_kib: $y[$i].rss}]
    | {sampled: $k, answered: length} + if length == 0 then {} else
      {window_s: mean(.dt), messages_in_per_s: mean(.messages_in),
       messages_in_min_per_s: (map(.messages_in) | min), bytes_in_per_s: mean(.bytes_in),
       sent_per_s: mean(.sent), relayed_per_s: mean(.relayed), received_per_s: mean(.received),
       dropped_per_s: mean(.dropped), dropped_old_per_s: mean(.old), min_live: (map(.live) | min),
       agent_cpu_percent: mean(.agent_cpu), agent_cpu_max_percent: (map(.agent_cpu) | max),
       node_cpu_percent: mean(.node_cpu), agent_rss_mib: (mean(.rss_kib) / 1024)} end' "${files[@]}"
}

hz=$(getconf CLK_TCK)
BENCH_T0=$SECONDS
[ "${BASH_SOURCE[0]}" = "$0" ] || return 0 # sourced: the functions only
for N in $SIZES; do
  q=$((N - (N - 1) / 3))
  rounds=${GOSSIP_ROUNDS:-$([ "$N" -ge 64 ] && echo 1 || echo 3)}
  PAUSE=${GOSSIP_START_PAUSE:-$([ "$N" -gt 16 ] && echo 5 || echo 0.5)}
  arm=() spread=() lags=() mesh=() traffic='{}' meshed=true
  read -r load_before _ </proc/loadavg # the machine's own load before this fleet starts
  for ((r = 1; r <= rounds; r++)); do
    echo "bench: gossip, $N agents, round $r/$rounds (at $((SECONDS - BENCH_T0)) s)" >&2
    setup
    t0=$SECONDS
    start_all
    if ! wait_mesh $((30 + N / 2)); then
      # no full mesh: measure the traffic in the state it is in, on a few agents, and stop there
      meshed=false
      traffic=$(measure $((N < 4 ? N : 4)))
      stop_fleet
      break
    fi
    mesh+=($((SECONDS - t0)))
    # the identical binary on every agent, as fast as renames go: upgrades/v2 appears complete
    python3 -c 'import os, sys
for h in sys.argv[1:]: os.rename(h + "/stage/v2", h + "/wemixvisor/upgrades/v2")' "$T"/a*/
    deadline=$((SECONDS + 30))
    until [ "$(grep -lF '"armed: a quorum' "$T"/a*.log | wc -l)" -ge "$N" ]; do
      [ "$SECONDS" -lt "$deadline" ] || die "$(grep -lF '"armed: a quorum' "$T"/a*.log | wc -l)/$N armed after 30 s"
      nap "$STEP"
    done
    # arming in beats; the spread of the ready times; the longest an agent took to arm once it
    # was ready and a quorum was (max over agents of armed - max(own ready, T_q))
    read -r beats sp lag < <(events | jq -Rrn --argjson q "$q" --argjson hb "$HB_MS" '
      [inputs | split(" ") | {t: (.[0] | tonumber), a: .[1], k: .[2]}] as $e
      | ([$e[] | select(.k == "ready") | .t] | sort) as $ready
      | ([$e[] | select(.k == "armed") | .t] | max) as $last
      | ([$e[] | select(.k == "armed") | . as $x
          | $x.t - ([$ready[$q - 1], ($e[] | select(.k == "ready" and .a == $x.a) | .t)] | max)] | max) as $lag
      | "\(($last - $ready[$q - 1]) / $hb) \($ready[-1] - $ready[0]) \($lag)"')
    arm+=("$beats") spread+=("$sp") lags+=("$lag")
    if [ "$r" -eq "$rounds" ]; then
      nap 2 # past the burst of state changes of the arming
      traffic=$(measure "$N")
    fi
    # anything unusual the agents logged (the missing binary and the fake node's version are expected)
    notes=$(jq -Rr 'fromjson? // empty | select(.level == "error" or .level == "warn")
      | select(.msg | test("binary is missing|node version unknown") | not)
      | "\(.component): \(.msg) \(.reason // "")"' "$T"/a*.log | sort | uniq -c | sort -rn | head -5)
    [ -z "$notes" ] || printf 'bench: gossip, %s agents, round %s: warnings and errors in the logs:\n%s\n' \
      "$N" "$r" "$notes" >&2
    stop_fleet
  done
  echo "bench: gossip, $N agents done (at $((SECONDS - BENCH_T0)) s)" >&2
  jq -nc --argjson n "$N" --argjson q "$q" --argjson hb "$HB_MS" --argjson block "$BLOCK_MS" \
    --argjson pause "$PAUSE" --argjson meshed "$meshed" --argjson load "$load_before" \
    --argjson traffic "$traffic" --arg arm "${arm[*]}" --arg spread "${spread[*]}" \
    --arg lag "${lags[*]}" --arg mesh "${mesh[*]}" '
    def nums: split(" ") | map(select(length > 0) | tonumber);
    def median: sort | .[(length - 1) / 2 | floor];
    {n: $n, quorum: $q, heartbeat_ms: $hb, block_ms: $block, start_pause_s: $pause,
     load_before: $load, meshed: $meshed,
     rounds: ($arm | nums | length), arm_beats: ($arm | nums), arm_beats_median: ($arm | nums | median),
     ready_spread_ms: ($spread | nums), arm_lag_ms: ($lag | nums), mesh_s: ($mesh | nums),
     ideal_messages_per_s: (($n - 1) * 1000 / $hb)} + $traffic'
done
