# shellcheck shell=bash
# lib.sh: helpers for the integration tests, sourced by each tests/integration/*.sh.
# Every test runs the real wemixvisor against the fake node in its own temp dir; waits are
# conditions with deadlines, never fixed sleeps.
set -euo pipefail

: "${WEMIXVISOR:?set by ctest: path to the wemixvisor binary}"
: "${FAKENODE:?set by ctest: path to the fakenode binary}"

TEST_NAME=$(basename "$0" .sh)
T=$(mktemp -d "/tmp/wv-${TEST_NAME}.XXXXXX")
export DAEMON_HOME="$T/home"
export DAEMON_NAME=wemixd
export DAEMON_SHUTDOWN_GRACE=${DAEMON_SHUTDOWN_GRACE:-10s}
unset DAEMON_LOG_FILE DAEMON_RESTART_DELAY DAEMON_POLL_INTERVAL WEMIXVISOR_WATCH \
  DAEMON_RESTART_AFTER_UPGRADE DAEMON_RESTART_ON_FAILURE DAEMON_MAX_RESTARTS || true
AGENT_PID=
AGENT_LOG="$T/agent.log"
DATA="$DAEMON_HOME/data"
EVENTS="$DATA/fakenode.events"
POLL_STEP=0.05 # how often a wait looks at its condition

# free_port: a TCP port nobody uses now (random, so parallel tests do not collide), below the
# kernel's ephemeral range (outgoing connections, e.g. the gossip's, take local ports from there and
# would make a later bind fail), and not handed out before in this test.
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
# The fake node's RPC port, which the agent probes (DAEMON_RPC_ADDRESS).
RPC_PORT=$(free_port)
export DAEMON_RPC_ADDRESS="127.0.0.1:$RPC_PORT"

fail() {
  echo "FAIL $TEST_NAME: $*" >&2
  if [ -f "$AGENT_LOG" ]; then
    echo "--- agent log (last 60 lines)" >&2
    tail -n 60 "$AGENT_LOG" >&2
  fi
  if [ -f "$EVENTS" ]; then
    echo "--- node events" >&2
    cat "$EVENTS" >&2
  fi
  exit 1
}

cleanup() {
  local rc=${1:-$?}
  if [ -n "$AGENT_PID" ] && kill -0 "$AGENT_PID" 2>/dev/null; then
    kill -TERM "$AGENT_PID" 2>/dev/null || true
    wait_quiet_exit "$AGENT_PID" 15 || kill -KILL "$AGENT_PID" 2>/dev/null || true
  fi
  # nothing started by this test may outlive it
  pkill -KILL -f "$T/" 2>/dev/null || true
  if [ "$rc" -eq 0 ] || [ "$rc" -eq 77 ]; then rm -rf "$T"; else echo "(kept $T)" >&2; fi
}
trap cleanup EXIT

# wait_for DESCRIPTION SECONDS COMMAND...: runs COMMAND until it succeeds or the deadline passes.
wait_for() {
  local what=$1 secs=$2
  shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      fail "timed out after ${secs}s waiting for: $what"
    fi
    sleep "$POLL_STEP"
  done
}

# wait_quiet_exit PID SECONDS: 0 once PID is gone, 1 at the deadline.
wait_quiet_exit() {
  local pid=$1 deadline=$((SECONDS + $2))
  while kill -0 "$pid" 2>/dev/null; do
    [ "$SECONDS" -ge "$deadline" ] && return 1
    sleep "$POLL_STEP"
  done
  return 0
}

# make_node PATH VERSION [fakenode flags...]: a node binary that is the fake node of VERSION,
# with its behaviour fixed by the flags (like a release that behaves a certain way).
make_node() {
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

# install_upgrade NAME VERSION [flags...]: puts a node binary at upgrades/NAME/bin/$DAEMON_NAME.
install_upgrade() {
  local name=$1
  shift
  make_node "$T/stage/$name" "$@"
  mkdir -p "$DAEMON_HOME/wemixvisor/upgrades/$name/bin"
  cp "$T/stage/$name" "$DAEMON_HOME/wemixvisor/upgrades/$name/bin/$DAEMON_NAME.tmp"
  mv "$DAEMON_HOME/wemixvisor/upgrades/$name/bin/$DAEMON_NAME.tmp" \
    "$DAEMON_HOME/wemixvisor/upgrades/$name/bin/$DAEMON_NAME"
}

# init_genesis VERSION [flags...]: wemixvisor init with a genesis node of VERSION.
init_genesis() {
  make_node "$T/stage/genesis" "$@"
  "$WEMIXVISOR" init "$T/stage/genesis" >"$T/init.out" 2>&1 || fail "init failed: $(cat "$T/init.out")"
}

# start_agent [node args...]: wemixvisor run in the background; the node gets --datadir and an
# ephemeral RPC port unless the test passes its own arguments.
start_agent() {
  local args=("$@")
  if [ ${#args[@]} -eq 0 ]; then
    args=(--datadir "$DATA" --http.port "$RPC_PORT" --block-ms 50)
  fi
  "$WEMIXVISOR" run "${args[@]}" >"$AGENT_LOG" 2>&1 &
  AGENT_PID=$!
}

agent_log_has() { grep -q -- "$1" "$AGENT_LOG"; }

# events_with KEY VALUE: how many node events have .KEY == VALUE (a string).
events_count() {
  [ -f "$EVENTS" ] || { echo 0; return; }
  jq -s --arg k "$1" --arg v "$2" '[.[] | select(.[$k] == $v)] | length' "$EVENTS"
}
# started_version N: the version of the N-th node start (1-based), or "" if none.
started_version() {
  [ -f "$EVENTS" ] || return 0
  jq -rs --argjson n "$1" '[.[] | select(.event == "start")][$n - 1].version // ""' "$EVENTS"
}
node_started() { [ "$(events_count event start)" -ge "$1" ]; }
started_is() { [ "$(started_version "$1")" = "$2" ]; }

current_target() { readlink "$DAEMON_HOME/wemixvisor/current"; }
current_is() { [ "$(current_target)" = "$1" ]; }

# node_height: the fake node's stored height.
node_height() { cat "$DATA/fakenode.height" 2>/dev/null || echo 0; }
height_at_least() { [ "$(node_height)" -ge "$1" ]; }

# wait_agent_exit SECONDS WHAT: waits for the agent to exit by itself; sets AGENT_RC.
wait_agent_exit() {
  wait_quiet_exit "$AGENT_PID" "$1" || fail "agent did not exit $2"
  set +e
  wait "$AGENT_PID"
  AGENT_RC=$?
  set -e
  AGENT_PID=
}

# stop_agent: SIGTERM and wait for a clean exit; sets AGENT_RC.
stop_agent() {
  kill -TERM "$AGENT_PID"
  wait_quiet_exit "$AGENT_PID" 30 || fail "agent did not exit after SIGTERM"
  set +e
  wait "$AGENT_PID"
  AGENT_RC=$?
  set -e
  AGENT_PID=
}

# write_upgrade_info JSON: writes data/upgrade-info.json atomically, as a node would.
write_upgrade_info() {
  mkdir -p "$DATA"
  printf '%s' "$1" >"$DATA/.upgrade-info.tmp"
  mv "$DATA/.upgrade-info.tmp" "$DATA/upgrade-info.json"
}

pass() { echo "PASS $TEST_NAME"; }
# skip REASON: the test cannot run here (ctest counts exit 77 as skipped).
skip() {
  echo "SKIP $TEST_NAME: $*"
  exit 77
}

# status_field JQ: a field of `wemixvisor status --json` ("" when the agent does not answer).
status_field() { "$WEMIXVISOR" status --json 2>/dev/null | jq -r "$1" 2>/dev/null || true; }
status_is() { [ "$(status_field "$1")" = "$2" ]; }

# node_pids: pids of fake nodes of this test that are alive (not zombies).
node_pids() {
  local p
  for p in $(pgrep -f -- "--datadir $DATA" || true); do
    [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ] && [ -n "$(cat "/proc/$p/stat" 2>/dev/null)" ] &&
      grep -q fakenode "/proc/$p/cmdline" 2>/dev/null && echo "$p"
  done
  return 0
}
node_count_is() { [ "$(node_pids | wc -l)" -eq "$1" ]; }

# zombies_of PID: children of PID that are zombies.
zombies_of() {
  local p
  for p in /proc/[0-9]*; do
    awk -v pp="$1" '{ s = $0; sub(/.*\) /, "", s); split(s, f, " "); if (f[1] == "Z" && f[2] == pp) print FILENAME }' "$p/stat" 2>/dev/null
  done
  return 0
}
# last_started_is VERSION: the latest node start was of VERSION.
last_started_is() {
  [ -f "$EVENTS" ] && [ "$(jq -rs '[.[] | select(.event == "start")][-1].version // ""' "$EVENTS")" = "$1" ]
}

# rpc_height: the fake node's height over its JSON-RPC (empty when it does not answer).
rpc_height() {
  local hex
  hex=$(curl -sf -m 2 -H 'Content-Type: application/json' \
    -d '{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}' \
    "http://127.0.0.1:$RPC_PORT" | jq -r .result 2>/dev/null) || return 0
  [ -n "$hex" ] && [ "$hex" != null ] && echo $((hex))
  return 0
}
journal_has_applied() { jq -e --arg n "$1" '[.applied[].name] | index($n) != null' "$DAEMON_HOME/wemixvisor/state.json" >/dev/null 2>&1; }
journal_has_failed() { jq -e --arg n "$1" '[(.failed // [])[].name] | index($n) != null' "$DAEMON_HOME/wemixvisor/state.json" >/dev/null 2>&1; }
# start_height_of N: the height the N-th node start began at.
start_height_of() { jq -s --argjson n "$1" '[.[] | select(.event == "start")][$n - 1].height' "$EVENTS"; }
rpc_answers() { [ -n "$(rpc_height)" ]; }

# prometheus_check BODY: fails unless BODY is the Prometheus text format (0.0.4) line by line:
# `# HELP name text`, `# TYPE name type` (once per family, before its samples), and samples
# `name{label="value",...} number`, each family's samples together.
prometheus_check() {
  local line name family last= types=" " done_families=" "
  while IFS= read -r line; do
    [ -z "$line" ] && continue
    if [[ "$line" =~ ^#\ HELP\ ([a-zA-Z_:][a-zA-Z0-9_:]*)\ .+$ ]]; then
      continue
    elif [[ "$line" =~ ^#\ TYPE\ ([a-zA-Z_:][a-zA-Z0-9_:]*)\ (counter|gauge|histogram|summary|untyped)$ ]]; then
      name=${BASH_REMATCH[1]}
      [[ "$types" == *" $name "* ]] && fail "second TYPE line for $name"
      types="$types$name "
      continue
    elif [[ "$line" =~ ^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\]|\\.)*\",?)*\})?\ (-?[0-9.]+(e[+-]?[0-9]+)?|NaN|[+-]Inf)$ ]]; then
      family=${BASH_REMATCH[1]}
      if [ "$family" != "$last" ]; then
        [[ "$done_families" == *" $family "* ]] && fail "samples of $family are not together"
        [ -n "$last" ] && done_families="$done_families$last "
        last=$family
      fi
    else
      fail "not Prometheus text: $line"
    fi
  done <<<"$1"
}

# --- the fault suite's end state -----------------------------------------------------------------
# snapshot_data: records a hash of every file under data/ that is the chain's (the fake node's own
# height, port and events files and upgrade-info files, and their temp copies, change as it runs,
# and are left out).
data_hashes() {
  (cd "$DATA" && find . -type f ! -name 'fakenode.*' ! -name '.fakenode.*' ! -name 'upgrade-info.json' \
    ! -name '.upgrade-info*' -print0 |
    sort -z | xargs -0 -r sha256sum)
}
snapshot_data() {
  data_hashes >"$T/data.snapshot"
  [ -s "$T/data.snapshot" ] || fail "snapshot_data: no chain data under $DATA to protect"
}

# proc_stopped PID: PID is stopped (SIGSTOP, or a fault_pause() of the test build).
proc_stopped() {
  [ -n "$1" ] && [ "$(awk '{ s = $0; sub(/.*\) /, "", s); split(s, f, " "); print f[1] }' "/proc/$1/stat" 2>/dev/null)" = T ]
}

# seed_chain_data BYTES: a chain data file of BYTES random bytes, recorded by snapshot_data.
seed_chain_data() {
  mkdir -p "$DATA/chaindata"
  head -c "$1" /dev/urandom >"$DATA/chaindata/000001.ldb"
  snapshot_data
}

# schedule_staged NAME HEIGHT: `wemixvisor upgrade schedule` of the binary install_upgrade staged.
schedule_staged() {
  "$WEMIXVISOR" upgrade schedule "$1" --height "$2" --binary "$T/stage/$1" >"$T/schedule.out" 2>&1 ||
    fail "schedule: $(cat "$T/schedule.out")"
}

# leftover_temps: temporary files or dirs the agent writes and renames into place (none may
# survive an upgrade, failed or not; the running fake node's own come and go). Backups, journal
# and binaries are checked elsewhere.
leftover_temps() {
  find "$DAEMON_HOME" \( -name '*.tmp.*' -o -name '.*.tmp' -o -name 'data.restore.*' \
    -o -name 'data.old.*' \) ! -name '.fakenode.*' ! -name '.upgrade-info*' -print 2>/dev/null
}

# assert_consistent DIR VERSION: the node ends on exactly one consistent version: `current` points
# at DIR (genesis or upgrades/NAME), exactly one node runs and the latest start was of VERSION, its
# RPC answers, the journal has no step in progress, the chain data is what snapshot_data recorded,
# and no temporary file is left. A failure names what is inconsistent.
assert_consistent() {
  local dir=$1 version=$2 step
  current_is "$dir" || fail "inconsistent: current -> $(current_target), expected $dir"
  wait_for "one node running" 20 node_count_is 1
  last_started_is "$version" ||
    fail "inconsistent: the last node started was $(jq -rs '[.[] | select(.event == "start")][-1].version' "$EVENTS"), expected $version"
  wait_for "the node's RPC" 20 rpc_answers
  step=$(jq -r '.step // empty' "$DAEMON_HOME/wemixvisor/state.json" 2>/dev/null || true)
  [ -z "$step" ] || fail "inconsistent: the journal is still at step $step"
  if [ -f "$T/data.snapshot" ]; then
    data_hashes >"$T/data.now"
    diff -u "$T/data.snapshot" "$T/data.now" >"$T/data.diff" ||
      fail "chain data changed: $(head -20 "$T/data.diff")"
  fi
  [ -z "$(leftover_temps)" ] || fail "temporary files left behind: $(leftover_temps | tr '\n' ' ')"
}
