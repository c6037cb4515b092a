# lib_fleet.sh: several agents, each with its own home and fake node, gossiping on loopback.
# Sourced after lib.sh. Agent i (1-based) has home $T/a<i>, RPC port RPC[i], gossip port GP[i];
# fleet_env i prints the environment that agent runs with. Waits are conditions with deadlines.

FLEET_N=0
declare -a RPC GP APID KEY
export WEMIXVISOR_CHAIN_ID=wv-test
export WEMIXVISOR_HEARTBEAT=${WEMIXVISOR_HEARTBEAT:-200ms}
export DAEMON_HEALTH_CHECK_INTERVAL=500ms

fleet_home() { echo "$T/a$1"; }
fleet_log() { echo "$T/a$1.log"; }

# fleet_env I: runs the rest of the line with agent I's environment.
fleet_env() {
  local i=$1
  shift
  DAEMON_HOME="$(fleet_home "$i")" DAEMON_RPC_ADDRESS="127.0.0.1:${RPC[$i]}" \
    WEMIXVISOR_LISTEN="tcp://127.0.0.1:${GP[$i]}" WEMIXVISOR_PEERS="$(fleet_peers "$i")" \
    WEMIXVISOR_VALIDATORS="$FLEET_VALIDATORS" VALIDATOR_MODE=true "$@"
}

# fleet_peers I: every other agent's endpoint, comma-separated.
fleet_peers() {
  local j out=
  for ((j = 1; j <= FLEET_N; j++)); do
    [ "$j" -eq "$1" ] && continue
    out="${out:+$out,}tcp://127.0.0.1:${GP[$j]}"
  done
  echo "$out"
}

# fleet_init N VERSION [fakenode flags...]: N homes with a genesis node of VERSION and a key each.
fleet_init() {
  FLEET_N=$1
  shift
  make_node "$T/stage/genesis" "$@"
  local i
  for ((i = 1; i <= FLEET_N; i++)); do
    RPC[$i]=$(free_port)
    GP[$i]=$(free_port)
  done
  FLEET_VALIDATORS=
  for ((i = 1; i <= FLEET_N; i++)); do
    fleet_env "$i" "$WEMIXVISOR" init "$T/stage/genesis" >"$T/init$i.out" 2>&1 ||
      fail "init $i: $(cat "$T/init$i.out")"
    KEY[$i]=$(DAEMON_HOME="$(fleet_home "$i")" "$WEMIXVISOR" id) || fail "id $i"
  done
  FLEET_VALIDATORS=$(IFS=,; echo "${KEY[*]:1}")
  export FLEET_VALIDATORS
}

# fleet_start I [extra node flags...]: starts agent I (its node: the fake node on RPC[i]).
fleet_start() {
  local i=$1
  shift
  local data
  data="$(fleet_home "$i")/data"
  fleet_env "$i" "$WEMIXVISOR" run -- --datadir "$data" --http.port "${RPC[$i]}" \
    --block-ms "${FLEET_BLOCK_MS:-100}" "$@" >>"$(fleet_log "$i")" 2>&1 &
  APID[$i]=$!
}

fleet_start_all() {
  local i
  for ((i = 1; i <= FLEET_N; i++)); do fleet_start "$i" "$@"; done
}

# fleet_stop I: SIGTERM to agent I, waits for it to exit.
fleet_stop() {
  local pid=${APID[$1]:-}
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  wait_quiet_exit "$pid" 30 || kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  APID[$1]=
}

fleet_cleanup() {
  local rc=$?
  local i
  for ((i = 1; i <= FLEET_N; i++)); do
    [ -n "${APID[$i]:-}" ] && kill -TERM "${APID[$i]}" 2>/dev/null || true
  done
  for ((i = 1; i <= FLEET_N; i++)); do
    [ -n "${APID[$i]:-}" ] && { wait_quiet_exit "${APID[$i]}" 15 || kill -KILL "${APID[$i]}" 2>/dev/null || true; }
  done
  cleanup "$rc"
}
trap fleet_cleanup EXIT

# fleet_fail MESSAGE: fail, with every agent's log tail.
fleet_fail() {
  local i
  for ((i = 1; i <= FLEET_N; i++)); do
    echo "--- agent $i log (last 25 lines)" >&2
    tail -n 25 "$(fleet_log "$i")" >&2 2>/dev/null || true
  done
  fail "$@"
}

# fleet_wait WHAT SECONDS COMMAND...: wait_for with every log on failure.
fleet_wait() {
  local what=$1 secs=$2
  shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -ge "$deadline" ] && fleet_fail "timed out after ${secs}s waiting for: $what"
    sleep "$POLL_STEP"
  done
}

# fleet_status I JQ: a field of agent I's `status --json`.
fleet_status() { fleet_env "$1" "$WEMIXVISOR" status --json 2>/dev/null | jq -r "$2" 2>/dev/null || true; }
fleet_peers_json() { fleet_env "$1" "$WEMIXVISOR" peers --json 2>/dev/null; }

# fleet_install I NAME VERSION [flags...]: puts the upgrade binary in agent I's home.
fleet_install() {
  local i=$1 name=$2
  shift 2
  make_node "$T/stage/$name-$i" "$@"
  local dir
  dir="$(fleet_home "$i")/wemixvisor/upgrades/$name/bin"
  mkdir -p "$dir"
  cp "$T/stage/$name-$i" "$dir/.$DAEMON_NAME.tmp"
  mv "$dir/.$DAEMON_NAME.tmp" "$dir/$DAEMON_NAME"
}

# fleet_schedule I NAME HEIGHT [MODE]: writes data/upgrades/HEIGHT/upgrade-info.json on agent I
# (as `upgrade schedule` does, but without requiring the binary: some tests leave it missing).
fleet_schedule() {
  local i=$1 name=$2 h=$3 mode=${4:-at-height}
  local dir
  dir="$(fleet_home "$i")/data/upgrades/$h"
  mkdir -p "$dir"
  printf '{"name":"%s","height":%d,"mode":"%s"}' "$name" "$h" "$mode" >"$dir/.tmp"
  mv "$dir/.tmp" "$dir/upgrade-info.json"
}

fleet_current_is() { [ "$(readlink "$(fleet_home "$1")/wemixvisor/current")" = "$2" ]; }
fleet_applied() { jq -e --arg n "$2" '[.applied[].name] | index($n) != null' "$(fleet_home "$1")/wemixvisor/state.json" >/dev/null 2>&1; }
fleet_log_has() { grep -q -- "$2" "$(fleet_log "$1")"; }
fleet_node_height() { cat "$(fleet_home "$1")/data/fakenode.height" 2>/dev/null || echo 0; }
# fleet_live_is I N: agent I hears N other members live.
fleet_live_is() { [ "$(fleet_peers_json "$1" | jq '[.members[] | select(.live and (.self | not))] | length')" = "$2" ]; }
