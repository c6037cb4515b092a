#!/usr/bin/env bash
# A local testnet of 4 validators on this machine: 4 fake WBFT nodes, each supervised by its own
# wemixvisor agent, gossiping over CURVE, watched by `wvcoord serve`; an upgrade is scheduled a few
# blocks ahead, downloaded from a local HTTP server, and switched under the quorum, live.
# It is not a benchmark and needs no Docker: everything runs on loopback under one temp dir.
# shellcheck disable=SC2317 # functions called through traps, wait_until and outcome
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/testnet.sh [--scenario NAME] [--no-wait] [--keep] [--help]

Starts a testnet of 4 validators on this machine (fake WBFT nodes producing a block every 300 ms,
each supervised by a wemixvisor agent; the agents gossip over ZeroMQ with CURVE on; wvcoord serves
the dashboard), schedules the upgrade v2 (v1.0.0 -> v2.0.0) a few blocks ahead on every agent, its
binary downloaded from a local HTTP server and checksum-verified, and shows the upgrade live. Then
it prints a summary: each node's height and version before and after, its downtime, the chain's
downtime. It leaves the dashboard running until Ctrl-C, then stops everything and removes every
file it made.

scenarios (--scenario NAME):
  at-height  (default) all four download the binary, arm by quorum, and switch together at the
             height; every node is back and producing
  blocked    two validators cannot download the binary (404): 2/4 ready, need 3; nobody switches,
             the nodes keep running v1.0.0 past the height, and the reason is shown
  rolling    a rolling upgrade: validators switch one restart slot at a time, before the height;
             never more than one validator down at once, the chain never stops
  late       one validator gets its binary only after the height: the other three switch at the
             height, the fourth keeps its old node, then catches up as soon as the binary appears
  crash      one validator's node crash-loops (it dies 0.2 s after every start): its agent gives
             it up as failed after DAEMON_MAX_RESTARTS=2 and wvcoord reports it; the other three
             (a quorum) switch at the height and the chain goes on
  partition  every validator in its own network namespace with its own address (veth pairs to a
             bridge; needs root and iproute2); a4's link is cut before the upgrade is scheduled:
             a1-a3 (a quorum) arm and switch at the height, a4 is blocked (1/4 ready) and keeps
             running v1.0.0 while cut off; then its link is healed: it hears the others' votes and
             catches up to v2.0.0

options:
  --no-wait  exit right after the summary (tests, CI) instead of waiting for Ctrl-C
  --keep     keep the temp dir (homes, logs) on exit; every process is stopped all the same
  -h, --help this text

Binaries: built with scripts/build.sh into build/ (incrementally); when WEMIXVISOR, WVCOORD and
FAKENODE are all set (as ctest sets them), those are used and nothing is built.
Needs: jq, curl, python3, tar, ss (./scripts/install-deps.sh installs them).
Exit: 0 when the scenario's expected outcome happened, 1 when it did not within its deadline (the
message says what was awaited, the agents' log tails follow), 2 on bad usage, 77 when the
partition scenario cannot run here (not root, no iproute2, or `ip netns add` not permitted).
EOF
}

scenario=at-height
no_wait=false
keep=false
while [ $# -gt 0 ]; do
  case $1 in
  --scenario) [ $# -ge 2 ] || { echo "testnet: --scenario needs a name (see --help)" >&2; exit 2; }
    scenario=$2; shift 2 ;;
  --scenario=*) scenario=${1#*=}; shift ;;
  --no-wait) no_wait=true; shift ;;
  --keep) keep=true; shift ;;
  -h | --help | help) usage; exit 0 ;;
  *) echo "testnet: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case $scenario in
at-height | blocked | rolling | late | crash | partition) ;;
*) echo "testnet: unknown scenario '$scenario'; the scenarios are at-height, blocked, rolling, late, crash and partition" >&2
  exit 2 ;;
esac

top=$(cd "$(dirname "$0")/.." && pwd)
# partition: network namespaces need root and iproute2; 77 (skip) when this machine cannot
if [ "$scenario" = partition ]; then
  [ "$(id -u)" -eq 0 ] || { echo "testnet: partition: network namespaces need root; run it as root" >&2; exit 77; }
  command -v ip >/dev/null || { echo "testnet: partition: 'ip' (iproute2) is missing; apt-get install iproute2" >&2; exit 77; }
fi
# Given binaries (the test suite) mean a prepared machine; otherwise this is the README's first
# command on a fresh one: install what is missing, then build.
if [ -z "${WEMIXVISOR:-}" ] || [ -z "${WVCOORD:-}" ] || [ -z "${FAKENODE:-}" ]; then
  "$top/scripts/install-deps.sh" >&2
fi
for tool in jq curl python3 tar sha256sum ss pgrep; do
  command -v "$tool" >/dev/null || { echo "testnet: '$tool' is missing; run ./scripts/install-deps.sh" >&2; exit 1; }
done

# --- the testnet's shape ------------------------------------------------------------------------
N=4                 # validators
BLOCK_MS=300        # fake block time
HEARTBEAT=500ms     # gossip heartbeat (agents and wvcoord)
AHEAD=30            # the upgrade height: this many blocks above the current height
ROLLING_AHEAD=300   # a rolling upgrade's height is far ahead: it rolls well before it
UPG=v2              # the upgrade's name
V1=v1.0.0
V2=v2.0.0
CHAIN=wemix-testnet
DEADLINE=90         # seconds for a scenario's outcome, from the moment the upgrade is scheduled
# late: a failed download is retried with backoff (1 s … 16 s), then by the agent every 30 s
[ "$scenario" != late ] || DEADLINE=120
START_DEADLINE=60   # seconds for the fleet to come up (a busy machine is slow to start 8 processes)

# The environment the agents get is exactly what this script sets: nothing leaks in from the shell.
unset DAEMON_HOME DAEMON_NAME DAEMON_RESTART_AFTER_UPGRADE DAEMON_RESTART_DELAY DAEMON_POLL_INTERVAL \
  DAEMON_SHUTDOWN_GRACE DAEMON_DATA_BACKUP_DIR UNSAFE_SKIP_BACKUP DAEMON_PREUPGRADE_MAX_RETRIES \
  DAEMON_PREUPGRADE_TIMEOUT COSMOVISOR_CUSTOM_PREUPGRADE WEMIXVISOR_CUSTOM_PREUPGRADE DAEMON_RPC_ADDRESS \
  VALIDATOR_MODE DAEMON_ALLOW_DOWNLOAD_BINARIES UNSAFE_SKIP_CHECKSUM DAEMON_RESTART_ON_FAILURE \
  DAEMON_MAX_RESTARTS DAEMON_HEALTH_CHECK_INTERVAL DAEMON_LOG_FILE DAEMON_LOG_MAX_FILES \
  DAEMON_LOG_MAX_SIZE DAEMON_BACKUP_COMPRESSION DAEMON_UPGRADE_VERIFY_TIMEOUT WEMIXVISOR_LISTEN \
  WEMIXVISOR_PEERS WEMIXVISOR_VALIDATORS WEMIXVISOR_OBSERVERS WEMIXVISOR_CHAIN_ID WEMIXVISOR_HEARTBEAT \
  WEMIXVISOR_QUORUM_RULE WEMIXVISOR_CURVE WEMIXVISOR_CURVE_PEERS WEMIXVISOR_METRICS_ADDR \
  WEMIXVISOR_WATCH WEMIXVISOR_FAULT WVCOORD_AGENTS WVCOORD_LISTEN WVCOORD_CURVE_CERT || true

T=$(mktemp -d /tmp/wemixvisor-testnet.XXXXXX)
declare -a APID RPC GP KEY
COORD_PID=
HTTP_PID=
MIRROR_PID= # partition: a4's own HTTP server, inside its namespace (it is cut off from the other)
declare -a HOST WRAP # partition: each validator's own address, and the `ip netns exec` its agent runs under
NETNS=()             # partition: the namespaces made (deleted on exit, with their veth ends)
BRIDGE=              # partition: the bridge made in the root namespace
waiting_for_ctrl_c=false

# --- output -------------------------------------------------------------------------------------
if [ -t 1 ]; then bold=$'\033[1m' dim=$'\033[2m' red=$'\033[31m' green=$'\033[32m' off=$'\033[0m'
else bold='' dim='' red='' green='' off=''; fi
t0=$EPOCHREALTIME
elapsed() { awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%5.1fs", b - a }'; }
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$off"; }
say() { printf '%s[%s]%s %s\n' "$dim" "$(elapsed)" "$off" "$*"; }

# fail MESSAGE: the scenario's expected outcome did not happen; the logs say why.
fail() {
  printf '\n%stestnet: %s: FAILED: %s%s\n' "$red$bold" "$scenario" "$*" "$off" >&2
  local i
  for ((i = 1; i <= N; i++)); do
    echo "--- agent a$i log: its last quorum decisions and upgrade milestones" >&2
    grep -E '^[a-z]+ [^ ]+ quorum |step=stopping|upgrade done|roll|node failed' "$T/a$i.log" 2>/dev/null |
      tail -n 12 >&2 || true
  done
  if [ -s "$T/status.json" ]; then
    echo "--- last wvcoord status --json (problems)" >&2
    jq -c '.problems' "$T/status.json" >&2 2>/dev/null || true
  fi
  $keep || echo "(rerun with --keep to keep the homes and logs)" >&2
  exit 1
}

# --- cleanup: every process this script started, by pid; then the temp dir ----------------------
# stop_pid PID SECONDS: SIGTERM, wait up to SECONDS for it to exit, then SIGKILL.
stop_pid() {
  local pid=$1 deadline=$((SECONDS + $2))
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.05; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local rc=$? i pid left
  trap - EXIT INT TERM
  set +e
  $waiting_for_ctrl_c && rc=0
  # partition: heal every link first, so that the agents' connections close cleanly (a socket
  # still retrying towards a cut-off peer would keep its namespace, and the veth, alive)
  for ((i = 1; i <= N; i++)); do [ -z "${HOSTVETH[$i]:-}" ] || ip link set "${HOSTVETH[$i]}" up 2>/dev/null; done
  [ -n "$COORD_PID" ] && stop_pid "$COORD_PID" 10
  # the agents stop their nodes gracefully (SIGTERM to the node, then the agent exits)
  for ((i = 1; i <= N; i++)); do [ -n "${APID[$i]:-}" ] && kill -TERM "${APID[$i]}" 2>/dev/null; done
  for ((i = 1; i <= N; i++)); do [ -n "${APID[$i]:-}" ] && stop_pid "${APID[$i]}" 30; done
  [ -n "$HTTP_PID" ] && stop_pid "$HTTP_PID" 5
  [ -n "$MIRROR_PID" ] && stop_pid "$MIRROR_PID" 5
  # partition: the namespaces, each veth pair (by its root end: a namespace lives on while a
  # socket of it does, and so would its end of the pair), then the bridge
  for ns in "${NETNS[@]}"; do ip netns del "$ns" 2>/dev/null || echo "testnet: could not delete netns $ns" >&2; done
  for ((i = 1; i <= N; i++)); do
    [ -z "${HOSTVETH[$i]:-}" ] || ! ip link show "${HOSTVETH[$i]}" >/dev/null 2>&1 || ip link del "${HOSTVETH[$i]}" 2>/dev/null ||
      echo "testnet: could not delete link ${HOSTVETH[$i]}" >&2
  done
  [ -z "$BRIDGE" ] || ip link del "$BRIDGE" 2>/dev/null || echo "testnet: could not delete bridge $BRIDGE" >&2
  # Nothing may outlive the testnet. Every process of ours has the temp dir in its command line
  # (nodes: --datadir; agents: the node's arguments); one still alive here is a bug worth a report.
  left=$(pgrep -f -- "$T/" || true)
  if [ -n "$left" ]; then
    echo "testnet: processes outlived their agents (a bug): $(ps -o pid=,args= -p "${left//$'\n'/,}" | tr '\n' ';')" >&2
    for pid in $left; do kill -KILL "$pid" 2>/dev/null; done
    [ "$rc" -ne 0 ] || rc=1
  fi
  if $keep; then echo "testnet: kept $T" >&2; else rm -rf "$T"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- binaries -----------------------------------------------------------------------------------
if [ -n "${WEMIXVISOR:-}" ] && [ -n "${WVCOORD:-}" ] && [ -n "${FAKENODE:-}" ]; then
  for b in "$WEMIXVISOR" "$WVCOORD" "$FAKENODE"; do
    [ -x "$b" ] || { echo "testnet: $b (from WEMIXVISOR/WVCOORD/FAKENODE) is not an executable" >&2; exit 1; }
  done
else
  command -v cmake >/dev/null || { echo "testnet: cmake is missing; run ./scripts/install-deps.sh" >&2; exit 1; }
  step "building (scripts/build.sh build/)"
  "$top/scripts/build.sh" "$top/build" >"$T/build.log" 2>&1 ||
    { tail -n 40 "$T/build.log" >&2; echo "testnet: the build failed (log above)" >&2; exit 1; }
  WEMIXVISOR=$top/build/agent/wemixvisor WVCOORD=$top/build/coordinator/wvcoord
  FAKENODE=$top/build/tests/fixtures/fakenode
fi

# free_port: a TCP port nobody listens on, below the ephemeral range (outgoing connections take
# their local ports there), and not handed out before by this script.
free_port() {
  local p lo=10000 hi
  hi=$(awk '{print $1 - 1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32767)
  [ "${hi:-0}" -gt $((lo + 1000)) ] || { lo=20000 hi=59999; }
  while :; do
    p=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo + 1)))
    grep -qx "$p" "$T/.ports" 2>/dev/null && continue
    ss -Htan "sport = :$p" 2>/dev/null | grep -q . && continue
    echo "$p" >>"$T/.ports"
    echo "$p"
    return
  done
}

# release PATH VERSION [fakenode flags...]: a node "release": the fake node of VERSION.
release() {
  local path=$1 version=$2
  shift 2
  mkdir -p "$(dirname "$path")"
  {
    echo '#!/bin/sh'
    printf 'exec %q --node-version %q' "$FAKENODE" "$version"
    for a in "$@"; do printf ' %q' "$a"; done
    echo ' "$@"'
  } >"$path"
  chmod 0755 "$path"
}

home() { echo "$T/a$1"; }
endpoint() { echo "tcp://${HOST[$1]:-127.0.0.1}:${GP[$1]}"; }
peers_of() {
  local j out=
  for ((j = 1; j <= N; j++)); do [ "$j" -eq "$1" ] || out="${out:+$out,}$(endpoint "$j")"; done
  echo "$out"
}
# agent_vars I: the environment validator I's agent runs with, as NAME=VALUE words in AV.
agent_vars() {
  local i=$1
  AV=(DAEMON_HOME="$(home "$i")" DAEMON_NAME=wemixd DAEMON_RPC_ADDRESS="127.0.0.1:${RPC[$i]}"
    DAEMON_SHUTDOWN_GRACE=10s DAEMON_HEALTH_CHECK_INTERVAL=500ms DAEMON_ALLOW_DOWNLOAD_BINARIES=true
    DAEMON_MAX_RESTARTS="${MAX_RESTARTS[$i]:-5}"
    VALIDATOR_MODE=true WEMIXVISOR_CHAIN_ID="$CHAIN" WEMIXVISOR_HEARTBEAT="$HEARTBEAT"
    WEMIXVISOR_CURVE=true WEMIXVISOR_VALIDATORS="${VALIDATORS:-}"
    WEMIXVISOR_LISTEN="$(endpoint "$i")" WEMIXVISOR_PEERS="$(peers_of "$i")")
}
# agent_env I COMMAND...: runs COMMAND (a CLI command) with validator I's agent environment.
agent_env() {
  local AV
  agent_vars "$1"
  shift
  env "${AV[@]}" "$@"
}
# coord_vars: wvcoord's environment in CV: the fleet, CURVE on with its own cert.
coord_vars() {
  CV=(WVCOORD_AGENTS="$AGENTS" WEMIXVISOR_VALIDATORS="$VALIDATORS" WEMIXVISOR_CHAIN_ID="$CHAIN"
    WEMIXVISOR_HEARTBEAT="$HEARTBEAT" WEMIXVISOR_CURVE=true
    WVCOORD_CURVE_CERT="$T/coord/wemixvisor/curve.cert_secret" WEMIXVISOR_CURVE_PEERS="$T/certs")
}
coord() {
  local CV
  coord_vars
  env "${CV[@]}" "$WVCOORD" "$@"
}

# --- setting up ---------------------------------------------------------------------------------
step "scenario $scenario: setting up 4 validators under $T"
declare -a MAX_RESTARTS
for ((i = 1; i <= N; i++)); do RPC[i]=$(free_port); GP[i]=$(free_port); done
HTTP_PORT=$(free_port)
DASH_PORT=$(free_port)
HTTP_HOST=127.0.0.1

# partition: validator I in namespace NETNS[I-1], its own address $SUBNET.I on a veth whose other
# end is a port of bridge $BRIDGE in the root namespace ($SUBNET.254: wvcoord and the HTTP server
# reach the agents through it). Cutting validator I off = its bridge-side veth end down.
HOSTVETH=()
if [ "$scenario" = partition ]; then
  ns="wvtn$$-1"
  if ! err=$(ip netns add "$ns" 2>&1); then
    echo "testnet: partition: 'ip netns add' is not permitted here ($err): this scenario needs network namespaces" >&2
    exit 77
  fi
  NETNS+=("$ns")
  # a /24 no interface of this machine is on
  while :; do
    SUBNET=10.$((200 + RANDOM % 50)).$((RANDOM % 250))
    ip -4 -o addr show | grep -q " $SUBNET\." || ip -4 route show | grep -q "^$SUBNET\." || break
  done
  BRIDGE="wvtb$$"
  ip link add "$BRIDGE" type bridge || fail "ip link add $BRIDGE type bridge"
  ip addr add "$SUBNET.254/24" dev "$BRIDGE" || fail "address on $BRIDGE"
  ip link set "$BRIDGE" up || fail "$BRIDGE up"
  for ((i = 1; i <= N; i++)); do
    ns="wvtn$$-$i"
    [ "$i" -eq 1 ] || { ip netns add "$ns" || fail "ip netns add $ns"; NETNS+=("$ns"); }
    HOSTVETH[i]="wvt$$h$i"
    ip link add "${HOSTVETH[$i]}" type veth peer name "wvt$$n$i" || fail "ip link add veth for a$i"
    ip link set "wvt$$n$i" netns "$ns" || fail "moving the veth end into $ns"
    ip link set "${HOSTVETH[$i]}" master "$BRIDGE" || fail "${HOSTVETH[$i]} into $BRIDGE"
    ip link set "${HOSTVETH[$i]}" up || fail "${HOSTVETH[$i]} up"
    ip -n "$ns" link set lo up || fail "lo up in $ns"
    ip -n "$ns" addr add "$SUBNET.$i/24" dev "wvt$$n$i" || fail "address in $ns"
    ip -n "$ns" link set "wvt$$n$i" up || fail "veth up in $ns"
    HOST[i]=$SUBNET.$i WRAP[i]="ip netns exec $ns"
  done
  HTTP_HOST=$SUBNET.254
  say "network: 4 namespaces wvtn$$-1…4 on bridge $BRIDGE ($SUBNET.0/24; the root namespace is $SUBNET.254)"
fi
# link I up|down: validator I's link to the bridge (partition).
link() { ip link set "${HOSTVETH[$1]}" "$2"; }

release "$T/releases/wemixd-$V1" "$V1"
# crash: validator 4's node crash-loops from the start, too fast to ever be healthy
release "$T/releases/wemixd-$V1-crashing" "$V1" --crash-after 200
[ "$scenario" = crash ] && MAX_RESTARTS[4]=2
# the v2 release: a .tar.gz with bin/wemixd, served over HTTP, its sha256 in the URL
release "$T/pkg/bin/wemixd" "$V2"
mkdir -p "$T/www"
tar -czf "$T/www/wemixd-$V2.tar.gz" -C "$T/pkg" bin
SUM=$(sha256sum "$T/www/wemixd-$V2.tar.gz" | cut -d' ' -f1)
say "release $V2: wemixd-$V2.tar.gz sha256 ${SUM:0:16}…"

for ((i = 1; i <= N; i++)); do
  genesis="$T/releases/wemixd-$V1"
  [ "$scenario" = crash ] && [ "$i" -eq 4 ] && genesis="$T/releases/wemixd-$V1-crashing"
  agent_env "$i" "$WEMIXVISOR" init "$genesis" >"$T/init$i.log" 2>&1 ||
    fail "wemixvisor init a$i: $(cat "$T/init$i.log")"
  KEY[i]=$(agent_env "$i" "$WEMIXVISOR" id) || fail "wemixvisor id a$i"
done
VALIDATORS=$(IFS=,; echo "${KEY[*]:1}")
# wvcoord's own CURVE key pair: one more home, made by `wemixvisor init` like the agents'
env DAEMON_HOME="$T/coord" DAEMON_NAME=wemixd "$WEMIXVISOR" init "$T/releases/wemixd-$V1" \
  >"$T/init-coord.log" 2>&1 || fail "wemixvisor init (wvcoord's cert): $(cat "$T/init-coord.log")"
# every agent's public cert (with the endpoint the others dial) goes to every other agent and to
# wvcoord; wvcoord's public cert goes to every agent, which then lets it subscribe
mkdir -p "$T/certs"
for ((i = 1; i <= N; i++)); do
  agent_env "$i" "$WEMIXVISOR" id --curve-cert "$T/certs/a$i.cert" --endpoint "$(endpoint "$i")" \
    >/dev/null || fail "wemixvisor id --curve-cert a$i"
done
for ((i = 1; i <= N; i++)); do
  for ((j = 1; j <= N; j++)); do [ "$i" -eq "$j" ] || cp "$T/certs/a$j.cert" "$(home "$i")/wemixvisor/curve/peers/"; done
  cp "$T/coord/wemixvisor/curve.cert" "$(home "$i")/wemixvisor/curve/peers/wvcoord.cert"
done
for ((i = 1; i <= N; i++)); do say "a$i: agent key ${KEY[$i]:0:8}, node RPC 127.0.0.1:${RPC[$i]}, gossip $(endpoint "$i") (CURVE)"; done

python3 -m http.server "$HTTP_PORT" --bind "$HTTP_HOST" --directory "$T/www" >"$T/http.log" 2>&1 &
HTTP_PID=$!

# start_agent I: `wemixvisor run` for validator I. A subshell that execs it, so that APID is the
# agent itself (a backgrounded function would leave a bash in between, and signalling that would
# orphan the agent).
start_agent() {
  local i=$1 AV
  agent_vars "$i"
  local -a wrap=()
  read -r -a wrap <<<"${WRAP[$i]:-}"
  (exec "${wrap[@]}" env "${AV[@]}" "$WEMIXVISOR" run -- --datadir "$(home "$i")/data" --http.port "${RPC[$i]}" \
    --block-ms "$BLOCK_MS") >>"$T/a$i.log" 2>&1 &
  APID[i]=$!
}
step "starting 4 agents (each runs its fake node, $V1, a block every $BLOCK_MS ms) and wvcoord"
for ((i = 1; i <= N; i++)); do start_agent "$i"; done
AGENTS=$(for ((i = 1; i <= N; i++)); do printf '%s,' "$(endpoint "$i")"; done)
AGENTS=${AGENTS%,}
coord_vars
(exec env "${CV[@]}" "$WVCOORD" serve --listen "127.0.0.1:$DASH_PORT") >"$T/wvcoord.log" 2>&1 &
COORD_PID=$!
DASHBOARD="http://127.0.0.1:$DASH_PORT/"

# wait_until SECONDS WHAT COMMAND...: polls COMMAND until it succeeds; fails the run at the deadline.
wait_until() {
  local secs=$1 what=$2 deadline
  shift 2
  deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || fail "timed out after ${secs}s waiting for: $what"
    for ((i = 1; i <= N; i++)); do
      kill -0 "${APID[$i]}" 2>/dev/null || fail "agent a$i exited: $(tail -n 3 "$T/a$i.log")"
    done
    sleep 0.2
  done
}
served() { curl -sf -o /dev/null "http://$HTTP_HOST:$HTTP_PORT/wemixd-$V2.tar.gz"; }
wait_until 30 "the HTTP server on $HTTP_HOST:$HTTP_PORT" served
dashboard_heard_all() { [ "$(curl -sf "http://127.0.0.1:$DASH_PORT/healthz" | jq .heard)" = "$N" ]; }
wait_until "$START_DEADLINE" "wvcoord to hear all 4 agents over CURVE" dashboard_heard_all
say "dashboard: ${bold}$DASHBOARD${off} (JSON: ${DASHBOARD}api/fleet, Prometheus: ${DASHBOARD}metrics)"

# --- watching the fleet through `wvcoord status --json` -----------------------------------------
declare -A IDX
for ((i = 1; i <= N; i++)); do IDX[${KEY[$i]}]=$i; done
declare -a HT VER NODE PHASE REASON
NET=0 UNHEARD='' U_READY=0 U_QUORUM=0 U_DONE=0 U_BLOCKED=0 U_ARMED=0 U_SWITCHING=0 PROBLEMS=
# snapshot: one `wvcoord status --json` (exit 1 just means it lists problems), into the arrays.
snapshot() {
  coord status --json >"$T/status.new" 2>"$T/status.err" || true
  jq -e '.members | length > 0' "$T/status.new" >/dev/null 2>&1 || return 1
  mv "$T/status.new" "$T/status.json"
  local key h v node phase reason
  UNHEARD=
  while IFS=$'\t' read -r key h v node phase reason; do
    i=${IDX[$key]:-}
    [ -n "$i" ] || continue
    # `status` waits at most two heartbeats: on a busy machine a member may not have been heard
    # in this look; keep what the previous look said about it, and decide nothing on this one
    if [ "$node" = unknown ]; then UNHEARD+=" a$i"; continue; fi
    HT[i]=$h VER[i]=$v NODE[i]=$node PHASE[i]=$phase REASON[i]=$reason
  done < <(jq -r --arg u "$UPG" '.members[] | [.key, .height, (if .version == "" then "-" else .version end),
      .node, ([.upgrades[] | select(.name == $u) | .phase][0] // "-"),
      ([.upgrades[] | select(.name == $u) | .reason][0] // "")] | @tsv' "$T/status.json")
  NET=$(jq .network_height "$T/status.json")
  read -r U_READY U_QUORUM U_DONE U_BLOCKED U_ARMED U_SWITCHING < <(jq -r --arg u "$UPG" '
    [.upgrades[] | select(.name == $u and (.sha256 | test("^0+$") | not))] | max_by(.ready) // {}
    | [.ready // 0, .quorum // 0, .done // 0, .blocked // 0, .armed // 0, .switching // 0] | @tsv' "$T/status.json")
  PROBLEMS=$(jq -r '.problems | join("; ")' "$T/status.json")
  return 0
}
heard_all() { snapshot && [ -z "$UNHEARD" ]; }
# progress: one line: the network height, the upgrade's votes, every node.
progress() {
  local i line
  line=$(printf 'height %-4s' "$NET")
  [ -z "${H:-}" ] || line+=$(printf ' (upgrade at %s) %s: %s/%s ready (quorum %s), armed %s, switching %s, done %s' \
    "$H" "$UPG" "$U_READY" "$N" "$U_QUORUM" "$U_ARMED" "$U_SWITCHING" "$U_DONE")
  for ((i = 1; i <= N; i++)); do
    line+=" | a$i ${HT[$i]:-?} ${VER[$i]:-?}"
    [ "${NODE[$i]:-}" = running ] || line+=" ${red}${NODE[$i]:-?}${off}"
    [ "${PHASE[$i]:--}" = - ] || line+=" ${PHASE[$i]}"
  done
  [ -z "$UNHEARD" ] || line+=" (not heard in this look:$UNHEARD)"
  say "$line"
}
all_running_v1() {
  heard_all || return 1
  for ((i = 1; i <= N; i++)); do
    [ "$scenario" = crash ] && [ "$i" -eq 4 ] && continue
    [ "${NODE[$i]}" = running ] && [ "${VER[$i]}" = "$V1" ] && [ "${HT[$i]}" -gt 0 ] || return 1
  done
}
wait_until "$START_DEADLINE" "all 4 nodes running $V1 and producing, as wvcoord status shows" all_running_v1
progress

if [ "$scenario" = crash ]; then
  step "crash: a4's node dies 0.2 s after every start; its agent restarts it (1 s, 2 s), then gives up"
  a4_failed() { heard_all && [ "${NODE[4]}" = failed ]; }
  wait_until 30 "wvcoord to report a4's node as failed" a4_failed
  progress
  failed_problems=$PROBLEMS
  say "wvcoord: ${PROBLEMS:-no problems}"
  say "a4: $(agent_env 4 "$WEMIXVISOR" status 2>/dev/null | grep -E '^state|^restarts|^last exit' | tr -s ' ' | paste -sd';' -)"
fi

# --- the upgrade --------------------------------------------------------------------------------
# current height: the highest any node reports; the upgrade goes AHEAD blocks above it
wait_until 15 "a look of wvcoord status --json that hears every agent" heard_all
top_height=0
for ((i = 1; i <= N; i++)); do [ "${HT[$i]}" -le "$top_height" ] || top_height=${HT[$i]}; done
mode=at-height
H=$((top_height + AHEAD))
if [ "$scenario" = rolling ]; then mode=rolling H=$((top_height + ROLLING_AHEAD)); fi
declare -a URL BEFORE_H BEFORE_V
for ((i = 1; i <= N; i++)); do
  URL[i]="http://$HTTP_HOST:$HTTP_PORT/wemixd-$V2.tar.gz?checksum=sha256:$SUM"
  BEFORE_H[i]=${HT[$i]} BEFORE_V[i]=${VER[$i]}
done
case $scenario in
blocked) # two validators' URL is a 404: their binary never arrives
  for i in 3 4; do URL[i]="http://$HTTP_HOST:$HTTP_PORT/missing/wemixd-$V2.tar.gz?checksum=sha256:$SUM"; done ;;
late) # validator 4's binary is published there only after the height
  URL[4]="http://$HTTP_HOST:$HTTP_PORT/late/wemixd-$V2.tar.gz?checksum=sha256:$SUM" ;;
partition) # a4 is cut off now, before the upgrade exists: it downloads from a mirror of its own
  MIRROR_PORT=$(free_port)
  (exec ip netns exec "wvtn$$-4" python3 -m http.server "$MIRROR_PORT" --bind 127.0.0.1 --directory "$T/www") \
    >"$T/mirror.log" 2>&1 &
  MIRROR_PID=$!
  mirror_served() { ip netns exec "wvtn$$-4" curl -sf -o /dev/null "http://127.0.0.1:$MIRROR_PORT/wemixd-$V2.tar.gz"; }
  wait_until 30 "a4's mirror on 127.0.0.1:$MIRROR_PORT in its namespace" mirror_served
  URL[4]="http://127.0.0.1:$MIRROR_PORT/wemixd-$V2.tar.gz?checksum=sha256:$SUM"
  link 4 down || fail "cutting a4's link"
  cut_height=${HT[4]}
  step "partition: a4's link to the bridge is down (at height $cut_height): a4 hears nobody, nobody hears a4" ;;
esac
step "scheduling $UPG ($mode) at height $H on every agent (wemixvisor upgrade schedule --url)"
sched_ms=$(date +%s%3N)
for ((i = 1; i <= N; i++)); do
  agent_env "$i" "$WEMIXVISOR" upgrade schedule "$UPG" --height "$H" --mode "$mode" --url "${URL[$i]}" \
    >"$T/schedule$i.log" 2>&1 || fail "upgrade schedule on a$i: $(cat "$T/schedule$i.log")"
  say "a$i: ${URL[$i]%%\?*}"
done
deadline=$((SECONDS + DEADLINE))

# is_v2 I: node I runs v2, is running, and its upgrade is done.
is_v2() { [ "${VER[$1]}" = "$V2" ] && [ "${NODE[$1]}" = running ] && [ "${PHASE[$1]}" = "done" ]; }
is_v1() { [ "${VER[$1]}" = "$V1" ]; }
# outcome: 0 once the scenario's expected outcome is there; fail on a wrong one; 1 meanwhile.
late_published=false
healed=false
# a4_local KEY: a field of a4's own `wemixvisor status --json` (asked over its control socket:
# wvcoord cannot hear it while it is cut off).
a4_local() { agent_env 4 "$WEMIXVISOR" status --json 2>/dev/null | jq -r "$1" 2>/dev/null || true; }
a4_node_version() { jq -rs '[.[] | select(.event == "start")][-1].version' "$(home 4)/data/fakenode.events"; }
a4_node_height() { cat "$(home 4)/data/fakenode.height" 2>/dev/null || echo 0; }
outcome() {
  local i
  # partition: while a4 is cut off, wvcoord does not hear it (that is the point)
  [ -z "$UNHEARD" ] || { [ "$scenario" = partition ] && ! $healed && [ "$UNHEARD" = " a4" ]; } || return 1
  for ((i = 1; i <= N; i++)); do
    [ "${PHASE[$i]}" != failed ] || fail "a$i: the upgrade failed and was rolled back: ${REASON[$i]}"
  done
  case $scenario in
  at-height | rolling)
    if [ "$scenario" = rolling ] && [ "$NET" -ge $((H - 1)) ]; then
      fail "the rolling upgrade did not finish before height $((H - 1)); it ends as an at-height upgrade"
    fi
    for ((i = 1; i <= N; i++)); do is_v2 "$i" || return 1; done
    [ "$U_DONE" -eq "$N" ] || return 1
    for ((i = 1; i <= N; i++)); do [ "${HT[$i]}" -gt "$(new_start_height "$i")" ] || return 1; done
    ;;
  blocked)
    for ((i = 1; i <= N; i++)); do
      [ "${VER[$i]}" != "$V2" ] || fail "a$i switched to $V2 without a quorum"
      case ${PHASE[$i]} in switching | "done") fail "a$i is ${PHASE[$i]} without a quorum" ;; esac
    done
    [ "$U_BLOCKED" -eq 2 ] && [ "$U_READY" -eq 2 ] && [ "$U_QUORUM" -eq 3 ] || return 1
    # the nodes were not stopped: every one is running and past the height on the old binary
    for ((i = 1; i <= N; i++)); do [ "${NODE[$i]}" = running ] && [ "${HT[$i]}" -ge $((H + 5)) ] || return 1; done
    ;;
  late)
    for ((i = 1; i <= 3; i++)); do is_v2 "$i" || return 1; done
    if ! $late_published; then
      [ "${VER[4]}" != "$V2" ] || fail "a4 switched to $V2 without its binary"
      # a4 keeps its old node running past the height (it is not blocked: the quorum went ahead)
      [ "$NET" -gt "$H" ] && is_v1 4 && [ "${NODE[4]}" = running ] && [ "${HT[4]}" -ge "$H" ] || return 1
      say "${bold}a4 is past the height on $V1 (${HT[4]}), its binary missing: publishing it now${off}"
      mkdir -p "$T/www/late"
      cp "$T/www/wemixd-$V2.tar.gz" "$T/www/late/.tmp" && mv "$T/www/late/.tmp" "$T/www/late/wemixd-$V2.tar.gz"
      late_published=true
      late_height=${HT[4]}
      return 1
    fi
    is_v2 4 && [ "$U_DONE" -eq "$N" ] || return 1
    ;;
  partition)
    if ! $healed; then
      [ "$(a4_node_version)" != "$V2" ] || fail "a4 switched to $V2 while cut off, without a quorum"
      for ((i = 1; i <= 3; i++)); do is_v2 "$i" && [ "${HT[$i]}" -gt "$H" ] || return 1; done
      # a4: blocked, its old node running on past the height (a few blocks, to be sure)
      a4_waiting=$(a4_local '.pending_upgrade.waiting_for // ""')
      [[ "$a4_waiting" == *blocked* ]] && [ "$(a4_node_height)" -ge $((H + 5)) ] || return 1
      kill -0 "${APID[4]}" 2>/dev/null || fail "a4's agent exited"
      heal_height=$(a4_node_height)
      say "${bold}a1-a3 run $V2 past the height; a4, cut off, is at $heal_height on $(a4_node_version) ($a4_waiting): healing its link${off}"
      link 4 up || fail "healing a4's link"
      heal_ms=$(date +%s%3N)
      healed=true
      return 1
    fi
    is_v2 4 && [ "$U_DONE" -eq "$N" ] || return 1
    [ "${HT[4]}" -gt "$(new_start_height 4)" ] || return 1
    ;;
  crash)
    for ((i = 1; i <= 3; i++)); do is_v2 "$i" && [ "${HT[$i]}" -gt "$H" ] || return 1; done
    # a4: still given up, or (as the agent does today) started on the new release by the upgrade
    # (then it syncs from height 0 and is verified once past the height)
    [ "${NODE[4]}" = failed ] || { [ "${VER[4]}" = "$V2" ] && [ "${NODE[4]}" = running ]; } || return 1
    ;;
  esac
  return 0
}
# new_start_height I: the height the latest node of validator I started at (from its events).
new_start_height() {
  jq -s '[.[] | select(.event == "start")][-1].height' "$(home "$1")/data/fakenode.events"
}

step "watching the fleet (wvcoord status --json, every second) until the outcome, at most ${DEADLINE}s"
while :; do
  next=$((${EPOCHREALTIME/./} / 1000 + 1000))
  if snapshot; then
    progress
    outcome && break
  fi
  [ "$SECONDS" -lt "$deadline" ] || fail "the expected outcome of '$scenario' did not happen within ${DEADLINE}s; last: ${PROBLEMS:-no problems reported}"
  for ((i = 1; i <= N; i++)); do kill -0 "${APID[$i]}" 2>/dev/null || fail "agent a$i exited: $(tail -n 3 "$T/a$i.log")"; done
  now=$((${EPOCHREALTIME/./} / 1000))
  [ "$now" -ge "$next" ] || sleep "$(awk -v ms=$((next - now)) 'BEGIN { printf "%.3f", ms / 1000 }')"
done
end_ms=$(date +%s%3N)

# --- summary ------------------------------------------------------------------------------------
# transitions: "<ms> <node> <up|down> <version> <height>" from every node's events file, in order
# of time: a node is down from its exit to its next start.
for ((i = 1; i <= N; i++)); do
  jq -r --arg n "$i" 'select(.event == "start" or .event == "exit")
    | "\(.t_ns / 1000000 | floor) \($n) \(if .event == "start" then "up" else "down" end) \(.version // "-") \(.height // "-")"' \
    "$(home "$i")/data/fakenode.events"
done | sort -n >"$T/transitions"
tolerated=$(jq .tolerated "$T/status.json")
# sweep over [sched_ms, end_ms]: per node its downtime; the chain is down while more than
# `tolerated` validators are; the most down at once.
read -r chain_down_ms max_down max_at max_who down_list < <(awk -v w0="$sched_ms" -v w1="$end_ms" -v n="$N" -v tol="$tolerated" '
  function advance(t,    j) {
    if (t > w1) t = w1
    if (t > last) {
      for (j = 1; j <= n; j++) if (down[j]) dt[j] += t - last
      if (cnt > tol) chain += t - last
      last = t
    }
  }
  # worst(t): a new maximum of validators down at once: when, and who ("a1,a3")
  function worst(t,    j) {
    max = cnt; max_at = t; who = ""
    for (j = 1; j <= n; j++) if (down[j]) who = who (who == "" ? "" : ",") "a" j
  }
  BEGIN { last = w0; max_at = w0; who = "-" }
  {
    t = $1; k = $2
    if (t < w0) { down[k] = ($3 == "down"); next }
    if (!counted) { cnt = 0; for (j = 1; j <= n; j++) cnt += down[j]; if (cnt > max) worst(w0); counted = 1 }
    advance(t)
    if ($3 == "down" && !down[k]) { down[k] = 1; cnt++ }
    else if ($3 == "up" && down[k]) { down[k] = 0; cnt-- }
    if (cnt > max) worst(t)
  }
  END {
    if (!counted) { cnt = 0; for (j = 1; j <= n; j++) cnt += down[j]; if (cnt > max) worst(w0) }
    advance(w1)
    s = ""; for (j = 1; j <= n; j++) s = s " " (dt[j] + 0) (down[j] ? "+" : "")
    print chain + 0, max + 0, max_at, (who == "" ? "-" : who), s
  }' "$T/transitions")
read -r -a DOWN_MS <<<"$down_list"

step "summary: scenario $scenario, upgrade $UPG ($mode) at height $H"
fmt_s() { awk -v ms="${1%+}" 'BEGIN { printf "%.2f s", ms / 1000 }'; }
late_stops=()
printf '%-4s %-9s %-16s %-16s %-18s %s\n' NODE KEY BEFORE AFTER "OLD NODE STOPPED" DOWNTIME
for ((i = 1; i <= N; i++)); do
  ev="$(home "$i")/data/fakenode.events"
  now_h=$(cat "$(home "$i")/data/fakenode.height" 2>/dev/null || echo "?")
  now_v=$(jq -rs '[.[] | select(.event == "start")][-1].version' "$ev")
  # the node that started after the schedule with another version: where the old one stopped
  stopped=$(jq -rs --argjson t "$sched_ms" --arg v "${BEFORE_V[$i]}" \
    '[.[] | select(.event == "start" and .t_ns / 1000000 >= $t and .version != $v)][0].height // "-"' "$ev")
  if [ "$stopped" != - ] && [ "$mode" = at-height ] && [ "$stopped" -ge "$H" ] && [ "${BEFORE_H[$i]}" -lt "$H" ] &&
    ! { [ "$scenario" = partition ] && [ "$i" -eq 4 ]; }; then
    late_stops+=("a$i's old node produced blocks up to $stopped (the upgrade height is $H) before it was stopped")
  fi
  [ "$stopped" = - ] || stopped="at $stopped"
  dt=$(fmt_s "${DOWN_MS[$((i - 1))]}")
  [[ "${DOWN_MS[$((i - 1))]}" != *+ ]] || dt="$dt (still down: ${NODE[$i]})"
  [ "$now_v" = "$V1" ] && [ "${NODE[$i]}" = failed ] && now_h="${HT[$i]}"
  printf '%-4s %-9s %-16s %-16s %-18s %s\n' "a$i" "${KEY[$i]:0:8}" "${BEFORE_V[$i]} @ ${BEFORE_H[$i]}" \
    "$now_v @ $now_h" "$stopped" "$dt"
done
# last_download_error I: the last failed download attempt in validator I's log, if any.
last_download_error() {
  grep 'download attempt failed' "$T/a$1.log" | tail -n 1 | grep -o 'error=\\"[^\\]*' | sed 's/^error=\\"//' || true
}
for ((i = 1; i <= N; i++)); do
  case ${PHASE[$i]} in "done" | -) continue ;; esac
  why="a$i: $UPG ${PHASE[$i]}${REASON[$i]:+: ${REASON[$i]}}"
  err=$(last_download_error "$i")
  [ -z "$err" ] || why+=" (download: $err from ${URL[$i]%%\?*})"
  echo "$why"
done
for note in "${late_stops[@]}"; do
  echo "note: $note: with ${BLOCK_MS} ms blocks on a busy machine the agent can be late by a block (operator.md: at-height precision)"
done
echo "validators: $N, quorum $U_QUORUM, at most $tolerated may be down at once"
max_when=$(date -u -d "@$((max_at / 1000)).$(printf '%03d' $((max_at % 1000)))" +%H:%M:%S.%3N)
if [ "$max_down" -gt 0 ]; then
  echo "most validators down at once: $max_down ($max_who, at $max_when UTC)"
else
  echo "most validators down at once: 0"
fi
echo "chain downtime (more than $tolerated validator(s) down at once): $(fmt_s "$chain_down_ms")"
# a real WBFT chain produces no block while more than n - q validators are down: the blocks a
# chain of BLOCK_MS blocks would not have produced over the chain downtime (whole blocks)
echo "blocks not produced (chain downtime / $BLOCK_MS ms block time): $((chain_down_ms / BLOCK_MS))"
echo "downtime ms: $(for ((i = 1; i <= N; i++)); do printf 'a%s %s, ' "$i" "${DOWN_MS[$((i - 1))]%+}"; done)chain $chain_down_ms, most down at once $max_down"
echo "wvcoord: ${PROBLEMS:-all nodes running, no upgrade blocked}"
result=
case $scenario in
at-height)
  result="all $N validators switched to $V2 at height $H together, and are producing" ;;
rolling)
  [ "$max_down" -le "$tolerated" ] ||
    fail "$max_down validators ($max_who) were down at once at $max_when UTC, but a rolling upgrade may take down at most $tolerated: several agents took the restart slot together (see 'taking a restart slot' in their logs)"
  result="all $N validators switched to $V2 one at a time before height $H; never more than $max_down down, the chain never stopped" ;;
blocked)
  result="nobody switched: $U_READY/$N ready, need $U_QUORUM; every node runs $V1 past height $H" ;;
late)
  result="a1-a3 switched at height $H; a4's binary was published when its node was at $late_height, past the height; a4 then downloaded it and caught up" ;;
partition)
  a4_new=$(jq -rs --argjson t "$heal_ms" '[.[] | select(.event == "start" and .t_ns / 1000000 >= $t)][0]' "$(home 4)/data/fakenode.events")
  catch_s=$(awk -v a="$heal_ms" -v b="$(jq -r '.t_ns / 1000000' <<<"$a4_new")" 'BEGIN { printf "%.1f", (b - a) / 1000 }')
  echo "partition: a4 cut off at height $cut_height; blocked while cut off: $a4_waiting; healed at height $heal_height; $V2 started $catch_s s after the heal, at height $(jq -r .height <<<"$a4_new")"
  result="a1-a3 (a quorum of 3) switched to $V2 at height $H while a4 was cut off; a4 was blocked and ran $V1 on to height $heal_height; once healed it heard the others' votes and caught up to $V2" ;;
crash)
  echo "a4 before the upgrade: given up after $((MAX_RESTARTS[4] + 1)) starts; wvcoord said: $failed_problems"
  if [ "${NODE[4]}" = failed ]; then
    result="a4's node was given up as failed and stays down; a1-a3, a quorum, switched to $V2 at height $H and the chain goes on"
  else
    result="a4's node was given up as failed (wvcoord reported it); a1-a3, a quorum, switched to $V2 at height $H; the upgrade started a4 again on $V2, which runs ($UPG ${PHASE[4]})"
  fi ;;
esac
printf '%sresult: OK (%s): %s%s\n' "$green$bold" "$scenario" "$result" "$off"
echo "run time: $(elapsed | tr -d ' ')"

if $no_wait; then exit 0; fi
# env files, to use the CLIs on the running testnet from another shell
mkdir -p "$T/env"
for ((i = 1; i <= N; i++)); do
  agent_vars "$i"
  printf 'export %q\n' "${AV[@]}" >"$T/env/a$i.sh"
done
coord_vars
printf 'export %q\n' "${CV[@]}" >"$T/env/wvcoord.sh"
step "the testnet keeps running: dashboard at ${DASHBOARD} — Ctrl-C to stop everything and clean up"
echo "from another shell:"
echo "  (. $T/env/a1.sh && $WEMIXVISOR peers)      # or status, upgrade list; a1…a4"
echo "  (. $T/env/wvcoord.sh && $WVCOORD status)"
echo "  logs: $T/a1.log … $T/a4.log, $T/wvcoord.log"
waiting_for_ctrl_c=true
trap 'exit 0' INT TERM
wait "$COORD_PID" || true
waiting_for_ctrl_c=false
fail "wvcoord serve exited: $(tail -n 5 "$T/wvcoord.log")"
