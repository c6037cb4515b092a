#!/usr/bin/env bash
# The Docker testnet's entry point without Docker: docker/entrypoint.sh run on loopback as the
# containers of docker/docker-compose.yml run it (4 validators, the coordinator, the files
# server), each with its own home and the one shared directory. The validators wait for each
# other and for wvcoord's cert, exchange keys, gossip over CURVE; wvcoord hears all four;
# docker/schedule-upgrade.sh (through a stand-in for `docker compose exec`) schedules v2.0.0
# downloaded from the files server, and every validator switches to it; a validator started again
# on its home (init is idempotent) keeps its upgrade and rejoins.
source "$(dirname "$0")/lib.sh"
: "${WVCOORD:?set by ctest}"
top=$(cd "$(dirname "$0")/../.." && pwd)
command -v busybox >/dev/null || { echo "SKIP: no busybox (scripts/packages.txt, test section)"; exit 77; }

BIN="$T/bin"
mkdir -p "$BIN" "$T/shared" "$T/env"
ln -s "$WEMIXVISOR" "$BIN/wemixvisor"
ln -s "$WVCOORD" "$BIN/wvcoord"
ln -s "$top/docker/entrypoint.sh" "$BIN/docker-entrypoint"
export PATH="$BIN:$PATH"
bash "$top/docker/fake-releases.sh" "$T/img" "$FAKENODE" v2.0.0 >/dev/null || fail "fake-releases.sh"

declare -a PIDS
declare -A PID_OF
stop_all() {
  local rc=$? p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait_quiet_exit "$p" 15 || kill -KILL "$p" 2>/dev/null || true; done
  cleanup "$rc"
}
trap stop_all EXIT
dump_fail() {
  local f
  for f in "$T"/*.log; do
    echo "--- $(basename "$f") (last 15 lines)" >&2
    tail -n 15 "$f" >&2
  done
  fail "$@"
}

FP=$(free_port)
CP=$(free_port)
declare -a GP RP
for i in 1 2 3 4; do GP[i]=$(free_port) RP[i]=$(free_port); done
FLEET=validator1,validator2,validator3,validator4
common=(WEMIXVISOR_CHAIN_ID=wv-docker WEMIXVISOR_CURVE=true WEMIXVISOR_HEARTBEAT=200ms
  WV_SHARED="$T/shared" WV_FLEET="$FLEET" WV_WAIT_TIMEOUT=60)

# the environment of each "container", as docker-compose.yml sets it (with loopback endpoints);
# written to a file for the stand-in `docker compose exec`
for i in 1 2 3 4; do
  peers=
  for j in 1 2 3 4; do [ "$i" = "$j" ] || peers=${peers:+$peers,}tcp://127.0.0.1:${GP[j]}; done
  printf '%s\n' "${common[@]}" DAEMON_HOME="$T/v$i" DAEMON_NAME=wemixd \
    DAEMON_RPC_ADDRESS="127.0.0.1:${RP[i]}" DAEMON_ALLOW_DOWNLOAD_BINARIES=true \
    DAEMON_SHUTDOWN_GRACE=5s DAEMON_HEALTH_CHECK_INTERVAL=500ms VALIDATOR_MODE=true \
    WEMIXVISOR_LISTEN="tcp://127.0.0.1:${GP[i]}" WEMIXVISOR_PEERS="$peers" \
    WV_NAME="validator$i" WV_ENDPOINT="tcp://127.0.0.1:${GP[i]}" WV_EXTRA_CERTS=wvcoord \
    WV_FILES_URL="http://127.0.0.1:$FP" WV_FILES_DIR="$T/img/files" \
    WV_GENESIS_BINARY="$T/img/releases/wemixd-v1.0.0" >"$T/env/validator$i"
done
printf '%s\n' "${common[@]}" WV_NAME=wvcoord WV_COORD_HOME="$T/coord" WVCOORD_LISTEN="127.0.0.1:$CP" \
  WVCOORD_AGENTS="$(for i in 1 2 3 4; do printf 'tcp://127.0.0.1:%s,' "${GP[i]}"; done | sed 's/,$//')" \
  >"$T/env/wvcoord"
printf '%s\n' WV_FILES_DIR="$T/img/files" WV_FILES_PORT="$FP" >"$T/env/files"
# svc SERVICE CMD...: CMD with that service's environment only (as `docker compose exec` has it)
svc() {
  local svc=$1
  shift
  (
    mapfile -t vars <"$T/env/$svc"
    exec env -i PATH="$PATH" HOME="$T" "${vars[@]}" "$@"
  )
}
# up SERVICE ARGS...: the container's command (entrypoint ARGS) in the background; a simple
# command, so that $! is the process itself (env execs the entry point, which execs the program)
up() {
  local svc=$1 vars
  shift
  mapfile -t vars <"$T/env/$svc"
  env -i PATH="$PATH" HOME="$T" "${vars[@]}" docker-entrypoint "$@" >>"$T/$svc.log" 2>&1 &
  PIDS+=($!)
  PID_OF[$svc]=$!
}
node_args() { echo --datadir "$T/v$1/data" --http.addr 127.0.0.1 --http.port "${RP[$1]}" --block-ms 200; }

up files files
# three validators: they publish their keys and wait for the fourth and for wvcoord
for i in 1 2 3; do
  # shellcheck disable=SC2046
  up "validator$i" validator $(node_args "$i")
done
waiting() { grep -q "waiting for .*validator4.id.*wvcoord.cert" "$T/validator$1.log"; }
for i in 1 2 3; do wait_for "validator$i waits for validator4 and wvcoord" 30 waiting "$i"; done
for i in 1 2 3; do
  if [ ! -s "$T/shared/validator$i.id" ] || [ ! -s "$T/shared/validator$i.cert" ]; then
    dump_fail "validator$i published nothing"
  fi
  grep -q "endpoint = \"tcp://127.0.0.1:${GP[i]}\"" "$T/shared/validator$i.cert" || dump_fail "cert endpoint of $i"
  [ ! -e "$T/v$i/wemixvisor/agent.sock" ] || dump_fail "validator$i started before the exchange"
done
up wvcoord coordinator
# shellcheck disable=SC2046
up validator4 validator $(node_args 4)

live3() { svc "validator$1" wemixvisor peers --json | jq -e '.curve and ([.members[] | select(.live and (.self | not))] | length) == 3' >/dev/null; }
for i in 1 2 3 4; do wait_for "validator$i hears the other three over CURVE" 60 live3 "$i"; done
heard4() { [ "$(curl -fsS "http://127.0.0.1:$CP/healthz" | jq .heard)" = 4 ]; }
wait_for "wvcoord hears the four" 30 heard4
# what the compose healthchecks run, and the settings `docker compose exec` sees
for i in 1 2 3 4; do
  svc "validator$i" wemixvisor status >/dev/null || dump_fail "healthcheck of validator$i"
  cfg=$(svc "validator$i" wemixvisor config) || dump_fail "validator$i: wemixvisor config exited $?"
  grep -Eq "^WEMIXVISOR_VALIDATORS +([0-9a-f]{64},){3}[0-9a-f]{64} +file" <<<"$cfg" ||
    dump_fail "validator$i: config does not show the validator set from config.json: $cfg"
done
curl -fsS -o /dev/null "http://127.0.0.1:$FP/SHA256SUMS" || dump_fail "files healthcheck"
svc wvcoord docker-entrypoint wvcoord status --json >"$T/coord.json" 2>>"$T/wvcoord.log" || dump_fail "wvcoord status: $(cat "$T/coord.json")"
jq -e '(.members | length) == 4 and .quorum == 3' "$T/coord.json" >/dev/null || dump_fail "wvcoord status: $(cat "$T/coord.json")"

# the upgrade, as docs/testnet.md says: docker/schedule-upgrade.sh, with `docker compose` stood in for
cat >"$T/compose" <<EOF
#!/usr/bin/env bash
set -euo pipefail
case \$1 in
  config) printf '%s\n' files validator1 validator2 validator3 validator4 wvcoord ;;
  exec)
    shift; [ "\$1" = -T ] && shift
    svc=\$1; shift
    mapfile -t vars <"$T/env/\$svc"
    exec env -i PATH="$PATH" HOME="$T" "\${vars[@]}" "\$@" ;;
  *) echo "compose stand-in: \$*" >&2; exit 2 ;;
esac
EOF
chmod +x "$T/compose"
COMPOSE="$T/compose" bash "$top/docker/schedule-upgrade.sh" v2.0.0 25 >"$T/schedule.out" 2>&1 ||
  dump_fail "schedule-upgrade.sh: $(cat "$T/schedule.out")"
H=$(sed -n 's/^scheduling v2.0.0 at height \([0-9]*\) .*/\1/p' "$T/schedule.out")
[ -n "$H" ] || dump_fail "no height in: $(cat "$T/schedule.out")"
switched() {
  [ "$(readlink "$T/v$1/wemixvisor/current")" = upgrades/v2.0.0 ] &&
    [ "$(jq -rs '[.[] | select(.event == "start")][-1].version' "$T/v$1/data/fakenode.events")" = v2.0.0 ]
}
for i in 1 2 3 4; do wait_for "validator$i runs v2.0.0 (height $H)" 90 switched "$i"; done
for i in 1 2 3 4; do
  [ -x "$T/v$i/wemixvisor/upgrades/v2.0.0/bin/wemixd" ] || dump_fail "validator$i: no downloaded binary"
done

# validator1 again on its home, as after `docker compose restart validator1`: init changes nothing
old=${PID_OF[validator1]}
[ "$(readlink "/proc/$old/exe")" = "$(readlink -f "$WEMIXVISOR")" ] || dump_fail "validator1's process is not the agent itself"
kill -TERM "$old"
wait_quiet_exit "$old" 20 || dump_fail "validator1 did not stop on SIGTERM"
# shellcheck disable=SC2046
up validator1 validator $(node_args 1)
started_again() { grep -c "gossip started" "$T/validator1.log" | grep -qx 2; }
wait_for "validator1's second agent starts" 30 started_again
wait_for "validator1 hears the other three again" 60 live3 1
[ "$(readlink "$T/v1/wemixvisor/current")" = upgrades/v2.0.0 ] || dump_fail "the restart lost the upgrade"
pass
