# shellcheck shell=bash
# lib_fleet.sh: several agents, each with its own home and fake node, gossiping on loopback.
# Sourced after lib.sh. Agent i (1-based) has home $T/a<i>, RPC port RPC[i], gossip port GP[i];
# fleet_env i runs a command with the environment that agent runs with. Waits are conditions with
# deadlines. Optional per agent: FLEET_HOST[i], the address its gossip listens on and the others
# connect to (default 127.0.0.1), and FLEET_WRAP[i], a command prefix its `run` is started under
# (e.g. "ip netns exec NS"); the CLI commands use agent.sock, so they need no wrapper.

FLEET_N=0
declare -a RPC GP APID KEY FLEET_HOST FLEET_WRAP FLEET_ON_CLEANUP FLEET_PEERS_OF
export WEMIXVISOR_CHAIN_ID=wv-test
export WEMIXVISOR_HEARTBEAT=${WEMIXVISOR_HEARTBEAT:-200ms}
export DAEMON_HEALTH_CHECK_INTERVAL=500ms

fleet_home() { echo "$T/a$1"; }
fleet_log() { echo "$T/a$1.log"; }
fleet_endpoint() { echo "tcp://${FLEET_HOST[$1]:-127.0.0.1}:${GP[$1]}"; }

# fleet_env I: runs the rest of the line with agent I's environment.
fleet_env() {
  local i=$1
  shift
  DAEMON_HOME="$(fleet_home "$i")" DAEMON_RPC_ADDRESS="127.0.0.1:${RPC[$i]}" \
    WEMIXVISOR_LISTEN="$(fleet_endpoint "$i")" WEMIXVISOR_PEERS="$(fleet_peers "$i")" \
    WEMIXVISOR_VALIDATORS="$FLEET_VALIDATORS" VALIDATOR_MODE=true "$@"
}

# fleet_peers I: every other agent's endpoint, comma-separated, and FLEET_EXTRA_PEERS if set.
fleet_peers() {
  local j out=
  # FLEET_PEERS_OF[i]: the agents agent i connects to (space-separated indexes); default all
  for j in ${FLEET_PEERS_OF[$1]:-$(seq 1 "$FLEET_N")}; do
    [ "$j" -eq "$1" ] && continue
    out="${out:+$out,}$(fleet_endpoint "$j")"
  done
  echo "$out${FLEET_EXTRA_PEERS:+,$FLEET_EXTRA_PEERS}" # e.g. a misbehaving peer of a test
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
  local data wrap=()
  data="$(fleet_home "$i")/data"
  read -r -a wrap <<<"${FLEET_WRAP[$i]:-}"
  # A subshell that execs the agent: APID is then the agent itself (a backgrounded function would
  # leave a bash in between, and a signal to it would orphan the agent).
  (
    export DAEMON_HOME DAEMON_RPC_ADDRESS WEMIXVISOR_LISTEN WEMIXVISOR_PEERS WEMIXVISOR_VALIDATORS \
      VALIDATOR_MODE
    DAEMON_HOME="$(fleet_home "$i")" DAEMON_RPC_ADDRESS="127.0.0.1:${RPC[$i]}"
    WEMIXVISOR_LISTEN="$(fleet_endpoint "$i")" WEMIXVISOR_PEERS="$(fleet_peers "$i")"
    WEMIXVISOR_VALIDATORS="$FLEET_VALIDATORS" VALIDATOR_MODE=true
    exec "${wrap[@]}" "$WEMIXVISOR" run -- --datadir "$data" --http.port "${RPC[$i]}" \
      --block-ms "${FLEET_BLOCK_MS:-100}" "$@"
  ) >>"$(fleet_log "$i")" 2>&1 &
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
  # nothing of the test may outlive it (the nodes of agents that were SIGKILLed included)
  pkill -KILL -f "$T/" 2>/dev/null || true
  local c
  for c in "${FLEET_ON_CLEANUP[@]}"; do eval "$c" || true; done
  cleanup "$rc"
}
# fleet_on_cleanup COMMAND: run COMMAND (a string, eval'ed) when the test ends, after the agents.
fleet_on_cleanup() { FLEET_ON_CLEANUP+=("$1"); }
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

# fleet_kill I: SIGKILL to agent I (its node dies with it: PDEATHSIG); waits for it to be gone.
fleet_kill() {
  local pid=${APID[$1]:-}
  [ -n "$pid" ] || return 0
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  APID[$1]=
}

# The fake node of agent I: its events file, and the starts recorded there.
fleet_events() { echo "$(fleet_home "$1")/data/fakenode.events"; }
# fleet_starts I: how many times agent I's node has started.
fleet_starts() {
  local f
  f=$(fleet_events "$1")
  [ -f "$f" ] || { echo 0; return 0; }
  jq -s '[.[] | select(.event == "start")] | length' "$f"
}
# fleet_start_field I N KEY: KEY (version, height, pid) of the N-th start of agent I's node ("" if none).
fleet_start_field() {
  local f
  f=$(fleet_events "$1")
  [ -f "$f" ] || return 0
  jq -rs --argjson n "$2" --arg k "$3" '[.[] | select(.event == "start")][$n - 1][$k] // ""' "$f"
}
fleet_started_is() { [ "$(fleet_start_field "$1" "$2" version)" = "$3" ]; }
# fleet_node_alive I: agent I's latest node process is alive (not a zombie).
fleet_node_alive() {
  local pid
  pid=$(fleet_start_field "$1" "$(fleet_starts "$1")" pid)
  [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]
}
fleet_node_height_is() { [ "$(fleet_node_height "$1")" -eq "$2" ]; }
fleet_node_height_at_least() { [ "$(fleet_node_height "$1")" -ge "$2" ]; }

# fleet_waiting_for I: what agent I's pending upgrade waits for (status .pending_upgrade.waiting_for).
fleet_waiting_for() { fleet_status "$1" '.pending_upgrade.waiting_for // ""'; }
fleet_waiting_has() { [[ "$(fleet_waiting_for "$1")" == *"$2"* ]]; }
# fleet_upgrade_field I NAME KEY: KEY (phase, reason, sha256...) of upgrade NAME in the state agent I
# publishes (its own entry in `peers --json`), "" if none.
fleet_upgrade_field() {
  fleet_peers_json "$1" | jq -r --arg n "$2" --arg k "$3" \
    '[.members[] | select(.self) | .upgrades[] | select(.name == $n) | .[$k]][0] // ""' 2>/dev/null || true
}
fleet_phase() { fleet_upgrade_field "$1" "$2" phase; }
fleet_phase_is() { [ "$(fleet_phase "$1" "$2")" = "$3" ]; }
# fleet_sent I: STATE messages agent I has published (heartbeats pass: it grows).
fleet_sent() { fleet_peers_json "$1" | jq -r '.sent // 0' 2>/dev/null || echo 0; }
fleet_sent_at_least() { [ "$(fleet_sent "$1")" -ge "$2" ]; }

# fleet_check_stops H MIN_EXACT I...: each agent I's node last started (the new binary) at a height
# <= H - 1 (the old node never produced block H), and at least MIN_EXACT of them exactly at H - 1.
# Not all need be exact: the fake nodes count blocks independently, and an agent whose node lags
# behind the network height (the q-th highest its validators report) stops it a little early, as
# DESIGN section 7 has it (a lagging node cannot make the agent miss the height).
fleet_check_stops() {
  local h=$1 min=$2 i at exact=0
  shift 2
  for i in "$@"; do
    at=$(fleet_start_field "$i" "$(fleet_starts "$i")" height)
    [ -n "$at" ] || fleet_fail "agent $i: no node start recorded"
    [ "$at" -le $((h - 1)) ] || fleet_fail "agent $i: the new node started at height $at, past $((h - 1))"
    [ "$at" -ne $((h - 1)) ] || exact=$((exact + 1))
  done
  [ "$exact" -ge "$min" ] || fleet_fail "only $exact old nodes stopped exactly at $((h - 1)), want at least $min"
}

# fleet_log_ms ISO: the ms since the epoch of a log line's time (UTC, with ms).
fleet_log_ms() {
  local t=$1
  echo $(($(date -u -d "${t%.*}" +%s) * 1000 + 10#$(sed -E 's/.*\.([0-9]{3})Z$/\1/' <<<"$t")))
}
# fleet_intervals NAME: per agent, when its node went down for upgrade NAME and when the upgrade
# was done, from its log (`upgrade step name=NAME step=stopping`, `upgrade done name=NAME`): lines
# "<ms stopping> <ms done> <agent>", sorted by the start. Fails unless every agent has both.
fleet_intervals() {
  local name=$1 i start end out=
  for ((i = 1; i <= FLEET_N; i++)); do
    start=$(awk -v n="$name" '$3 == "upgrade" && $4 == "step" && $5 == "name=" n && $6 == "step=stopping" {print $2; exit}' "$(fleet_log "$i")")
    end=$(awk -v n="$name" '$3 == "upgrade" && $4 == "upgrade" && $5 == "done" && $6 == "name=" n {print $2; exit}' "$(fleet_log "$i")")
    [ -n "$start" ] || fleet_fail "agent $i: no line for $name step=stopping"
    [ -n "$end" ] || fleet_fail "agent $i: no line for $name upgrade done"
    out+="$(fleet_log_ms "$start") $(fleet_log_ms "$end") $i"$'\n'
  done
  sort -n <<<"${out%$'\n'}"
}
# fleet_check_serial NAME: no two agents were between stopping and done for NAME at the same time
# (at most one validator down: n - q = 1 for 4). Prints the intervals.
fleet_check_serial() {
  local list prev_end=0 prev=0 s e i
  list=$(fleet_intervals "$1")
  echo "$1: [stopping, done] per agent, ms: $(while read -r s e i; do
    printf 'a%s(%.8s):[%s,%s] ' "$i" "${KEY[$i]}" $((s % 100000)) $((e % 100000))
  done <<<"$list")"
  while read -r s e i; do
    [ "$e" -ge "$s" ] || fleet_fail "agent $i: done before stopping"
    [ "$s" -ge "$prev_end" ] ||
      fleet_fail "$1: agent $i stopped its node (at $s ms) before agent $prev was done (at $prev_end ms): two validators down at once"
    prev_end=$e prev=$i
  done <<<"$list"
}

# --- the fault suite's end state, per agent of a fleet -------------------------------------------
# fleet_node_pids I: agent I's fake node processes that are alive (not zombies).
fleet_node_pids() {
  local p data
  data="$(fleet_home "$1")/data"
  for p in $(pgrep -f -- "--datadir $data --http.port" || true); do
    [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" = Z ] && continue
    grep -q fakenode "/proc/$p/cmdline" 2>/dev/null && echo "$p"
  done
  return 0
}
fleet_node_count_is() { [ "$(fleet_node_pids "$1" | wc -l)" -eq "$2" ]; }
# fleet_runs I VERSION: agent I says (status --json) that its node is running, of VERSION, as the
# process it last started, and that no upgrade is pending.
fleet_runs() {
  local pid
  pid=$(fleet_start_field "$1" "$(fleet_starts "$1")" pid)
  fleet_env "$1" "$WEMIXVISOR" status --json 2>/dev/null | jq -e --arg v "$2" --argjson pid "${pid:-0}" \
    '.state == "running" and .version == $v and .pid == $pid and .pending_upgrade == null' >/dev/null
}
# fleet_assert_consistent I DIR VERSION: agent I ends on exactly one consistent version: `current`
# points at DIR (genesis or upgrades/NAME), exactly one node runs, the latest start was of VERSION
# and is the node the agent reports running (status --json: state, version, pid), nothing is
# pending, the journal has no step in progress and no temporary file is left. A failure names what
# is inconsistent.
fleet_assert_consistent() {
  local i=$1 dir=$2 version=$3 home step left
  home=$(fleet_home "$i")
  fleet_current_is "$i" "$dir" ||
    fleet_fail "agent $i inconsistent: current -> $(readlink "$home/wemixvisor/current"), expected $dir"
  fleet_wait "agent $i: exactly one node running" 20 fleet_node_count_is "$i" 1
  fleet_started_is "$i" "$(fleet_starts "$i")" "$version" ||
    fleet_fail "agent $i inconsistent: the last node started was $(fleet_start_field "$i" "$(fleet_starts "$i")" version), expected $version"
  fleet_node_alive "$i" || fleet_fail "agent $i: its last node is not alive"
  fleet_wait "agent $i reports its node running $version" 20 fleet_runs "$i" "$version"
  step=$(jq -r '.step // empty' "$home/wemixvisor/state.json" 2>/dev/null || true)
  [ -z "$step" ] || fleet_fail "agent $i inconsistent: the journal is still at step $step"
  left=$(find "$home" \( -name '*.tmp.*' -o -name '.*.tmp' -o -name 'data.restore.*' \
    -o -name 'data.old.*' \) -print 2>/dev/null)
  [ -z "$left" ] || fleet_fail "agent $i: temporary files left behind: $(tr '\n' ' ' <<<"$left")"
}

# fleet_coord_done FILE VERSION NAME: wvcoord's fleet document (status --json or /api/fleet) in
# FILE shows every validator heard, running VERSION with upgrade NAME done, and NAME done by all.
fleet_coord_done() {
  jq -e --arg v "$2" --arg n "$3" --argjson nv "$FLEET_N" '
    ([.members[] | select(.role == "validator")] | length == $nv and
      all(.[]; .version == $v and .node == "running" and (.silent | not) and
        any(.upgrades[]; .name == $n and .phase == "done"))) and
    any(.upgrades[]; .name == $n and .done == $nv and .ready == $nv)' "$1" >/dev/null
}
