#!/usr/bin/env bash
# docker-entrypoint: the entry point of the wemixvisor image (docker/Dockerfile).
#
#   validator [NODE ARGS...]   set up this validator's home, exchange keys with the others through
#                              the shared directory, then `exec wemixvisor run -- NODE ARGS...`
#   coordinator [ARGS...]      set up wvcoord's CURVE key, collect the validators' keys, then
#                              `exec wvcoord serve ARGS...` (--listen from WVCOORD_LISTEN)
#   wvcoord ARGS...            any wvcoord command with the coordinator's settings
#                              (`docker compose exec wvcoord docker-entrypoint wvcoord status`)
#   files                      serve WV_FILES_DIR over HTTP (busybox httpd): the upgrade tarballs
#   height                     print the local node's height (eth_blockNumber at DAEMON_RPC_ADDRESS)
#   upgrade-url NAME           print the download URL of upgrade NAME ($DAEMON_NAME-NAME.tar.gz
#                              in WV_FILES_DIR/SHA256SUMS) with its ?checksum=sha256:
#   help                       this text
#   anything else              exec'd as it is (`docker run IMAGE wemixvisor --help`)
#
# Key exchange (validator and coordinator): every member writes into WV_SHARED (a volume all the
# containers mount) `<WV_NAME>.id` (its `wemixvisor id`) and `<WV_NAME>.cert` (its public CURVE
# cert, whose endpoint is WV_ENDPOINT: how the others reach it, as in their WEMIXVISOR_PEERS), then
# waits until every name of WV_FLEET has both, and every name of WV_EXTRA_CERTS a cert. The
# validator set (WEMIXVISOR_VALIDATORS, the ids in WV_FLEET order) goes into
# $DAEMON_HOME/wemixvisor/config.json, so `docker compose exec` commands see it too (the file is
# rewritten at every start: give other settings as environment variables); the others' certs go
# into the CURVE peers directory. Files are written with a rename: never read half-written.
# Whoever can write to WV_SHARED can join the fleet: this is the testnet's shortcut for the
# out-of-band exchange of keys and certs that a real fleet does (docs/operator.md, CURVE).
#
# Variables (besides wemixvisor's and wvcoord's own):
#   WV_NAME            this member's name in WV_SHARED (default: the host name)
#   WV_FLEET           the validators' names, comma-separated (required for validator, coordinator)
#   WV_ENDPOINT        this validator's gossip endpoint as the others reach it (required with
#                      WEMIXVISOR_LISTEN), e.g. tcp://validator1:7600
#   WV_EXTRA_CERTS     names of non-validator members whose cert to wait for and install (wvcoord)
#   WV_SHARED          the key exchange directory (default /shared)
#   WV_WAIT_TIMEOUT    seconds to wait for the others (default 600; then exit 1 and be restarted)
#   WV_GENESIS_BINARY  the node binary `wemixvisor init` takes
#                      (default /usr/local/lib/wemixvisor/releases/wemixd-v1.0.0, the fake node)
#   WV_COORD_HOME      the coordinator's state: its key pair, the agents' certs (/var/lib/wvcoord)
#   WV_FILES_DIR       what `files` serves (default /srv/files), WV_FILES_PORT (default 8000)
#   WV_FILES_URL       how the validators reach `files` (default http://files:8000)
set -euo pipefail

SHARED=${WV_SHARED:-/shared}
NAME=${WV_NAME:-${HOSTNAME:-$(uname -n)}}
WAIT_TIMEOUT=${WV_WAIT_TIMEOUT:-600}
FILES_DIR=${WV_FILES_DIR:-/srv/files}

log() { echo "docker-entrypoint: $*" >&2; }
die() {
  log "$*"
  exit 1
}
need() { [ -n "${!1:-}" ] || die "$1 is not set${2:+ ($2)}"; }

# put SRC DEST: copies SRC to DEST through a temporary file in DEST's directory and a rename.
put() {
  local tmp
  tmp="$(dirname "$2")/.$(basename "$2").$$.tmp"
  cat "$1" >"$tmp"
  mv -f "$tmp" "$2"
}

# fleet_names: WV_FLEET one per line; extra_names: WV_EXTRA_CERTS one per line.
fleet_names() { tr ',' '\n' <<<"${WV_FLEET:-}" | sed '/^$/d'; }
extra_names() { tr ',' '\n' <<<"${WV_EXTRA_CERTS:-}" | sed '/^$/d'; }

# publish ENDPOINT WEMIXVISOR...: writes this member's id and public cert into SHARED, with the
# wemixvisor command line given (its DAEMON_HOME is the member's home).
publish() {
  local endpoint=$1 tmp
  shift
  mkdir -p "$SHARED"
  [ -w "$SHARED" ] || die "$SHARED is not writable by uid $(id -u)"
  tmp=$(mktemp "$SHARED/.$NAME.XXXXXX")
  "$@" id >"$tmp" || die "wemixvisor id failed"
  mv -f "$tmp" "$SHARED/$NAME.id"
  tmp="$SHARED/.$NAME.cert.$$.tmp"
  "$@" id --curve-cert "$tmp" ${endpoint:+--endpoint "$endpoint"} >/dev/null ||
    die "wemixvisor id --curve-cert failed"
  mv -f "$tmp" "$SHARED/$NAME.cert"
  log "published $SHARED/$NAME.id ($(cut -c1-8 "$SHARED/$NAME.id")…) and $NAME.cert${endpoint:+ for $endpoint}"
}

# missing: the files the exchange still waits for, one per line.
missing() {
  local n
  while read -r n; do
    [ -s "$SHARED/$n.id" ] || echo "$n.id"
    [ -s "$SHARED/$n.cert" ] || echo "$n.cert"
  done < <(fleet_names)
  while read -r n; do
    [ -s "$SHARED/$n.cert" ] || echo "$n.cert"
  done < <(extra_names)
}

wait_for_all() {
  local deadline=$((SECONDS + WAIT_TIMEOUT)) m last=
  while m=$(missing | paste -sd' ' -) && [ -n "$m" ]; do
    [ "$SECONDS" -lt "$deadline" ] || die "gave up after ${WAIT_TIMEOUT}s waiting for $SHARED/{$m}"
    [ "$m" = "$last" ] || log "waiting for $m in $SHARED"
    last=$m
    sleep 1
  done
}

# validator_keys: the ids of WV_FLEET, in its order, comma-separated; each checked.
validator_keys() {
  local n k out=
  while read -r n; do
    k=$(tr -d '[:space:]' <"$SHARED/$n.id")
    [[ $k =~ ^[0-9a-f]{64}$ ]] || die "$SHARED/$n.id does not hold a key (64 hex digits): '$k'"
    out=${out:+$out,}$k
  done < <(fleet_names)
  echo "$out"
}

# install_certs DIR: every other member's cert into DIR (as <name>.cert).
install_certs() {
  local dir=$1 n
  mkdir -p "$dir"
  chmod 0700 "$dir"
  while read -r n; do
    [ "$n" = "$NAME" ] || put "$SHARED/$n.cert" "$dir/$n.cert"
  done < <(fleet_names; extra_names)
}

validator() {
  need DAEMON_HOME "the node's home, a volume"
  need DAEMON_NAME
  need WV_FLEET "the validators' names, comma-separated"
  [ -z "${WEMIXVISOR_LISTEN:-}" ] || need WV_ENDPOINT "this agent's endpoint as in the others' WEMIXVISOR_PEERS"
  fleet_names | grep -qx -- "$NAME" || die "WV_NAME=$NAME is not in WV_FLEET=$WV_FLEET"
  local genesis=${WV_GENESIS_BINARY:-/usr/local/lib/wemixvisor/releases/wemixd-v1.0.0}
  # idempotent: an existing home (and its keys, and a current pointing at an upgrade) is kept
  wemixvisor init "$genesis" >/dev/null || die "wemixvisor init $genesis failed (DAEMON_HOME=$DAEMON_HOME)"
  publish "${WV_ENDPOINT:-}" wemixvisor
  wait_for_all
  local keys
  keys=$(validator_keys)
  install_certs "${WEMIXVISOR_CURVE_PEERS:-$DAEMON_HOME/wemixvisor/curve/peers}"
  local cfg="$DAEMON_HOME/wemixvisor/config.json" tmp
  tmp=$(mktemp "$cfg.XXXXXX")
  printf '{"WEMIXVISOR_VALIDATORS": "%s"}\n' "$keys" >"$tmp"
  mv -f "$tmp" "$cfg"
  log "validator $NAME: $(fleet_names | wc -l) validators in $cfg, the others' certs installed; starting the agent"
  exec wemixvisor run -- "$@"
}

# coordinator_setup: the coordinator's key pair, the exchange, and its settings in the environment.
coordinator_setup() {
  need WV_FLEET "the validators' names, comma-separated"
  local home=${WV_COORD_HOME:-/var/lib/wvcoord}
  # wvcoord has no key generator of its own: `wemixvisor init` on a home of its own makes the
  # CURVE key pair (the node layout it also makes there is unused). A clean environment, so that
  # the coordinator's settings are not read as an agent's.
  local wv=(env -i PATH="$PATH" DAEMON_HOME="$home" DAEMON_NAME=unused wemixvisor)
  "${wv[@]}" init "$(type -P true)" >/dev/null || die "cannot create the coordinator's key pair in $home"
  publish "" "${wv[@]}"
  wait_for_all
  export WEMIXVISOR_VALIDATORS=${WEMIXVISOR_VALIDATORS:-$(validator_keys)}
  export WEMIXVISOR_CURVE_PEERS=${WEMIXVISOR_CURVE_PEERS:-$home/agents}
  export WVCOORD_CURVE_CERT=${WVCOORD_CURVE_CERT:-$home/wemixvisor/curve.cert_secret}
  install_certs "$WEMIXVISOR_CURVE_PEERS"
}

node_height() {
  local addr=${DAEMON_RPC_ADDRESS:-localhost:8545} reply hex
  reply=$(curl -fsS -m 5 -H 'Content-Type: application/json' \
    -d '{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}' "http://$addr") ||
    die "no answer from the node at $addr"
  hex=$(sed -n 's/.*"result"[[:space:]]*:[[:space:]]*"\(0x[0-9a-fA-F]*\)".*/\1/p' <<<"$reply")
  [ -n "$hex" ] || die "unexpected eth_blockNumber reply: $reply"
  printf '%d\n' "$hex"
}

upgrade_url() {
  [ $# -eq 1 ] || die "usage: upgrade-url NAME"
  local file="${DAEMON_NAME:-wemixd}-$1.tar.gz" sum
  sum=$(awk -v f="$file" '$2 == f || $2 == "*" f { print $1 }' "$FILES_DIR/SHA256SUMS" 2>/dev/null || true)
  [ -n "$sum" ] || die "no $file in $FILES_DIR/SHA256SUMS"
  echo "${WV_FILES_URL:-http://files:8000}/$file?checksum=sha256:$sum"
}

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'; }

mode=${1:-help}
[ $# -eq 0 ] || shift
case $mode in
  validator) validator "$@" ;;
  coordinator)
    coordinator_setup
    log "coordinator: watching ${WVCOORD_AGENTS:-(WVCOORD_AGENTS unset)}"
    if [ $# -eq 0 ]; then set -- --listen "${WVCOORD_LISTEN:-0.0.0.0:8080}"; fi
    exec wvcoord serve "$@"
    ;;
  wvcoord)
    WV_WAIT_TIMEOUT=${WV_WAIT_TIMEOUT:-10}
    WAIT_TIMEOUT=$WV_WAIT_TIMEOUT
    coordinator_setup
    exec wvcoord "$@"
    ;;
  files)
    [ -d "$FILES_DIR" ] || die "WV_FILES_DIR=$FILES_DIR is not a directory"
    log "serving $FILES_DIR on port ${WV_FILES_PORT:-8000}"
    exec busybox httpd -f -v -p "${WV_FILES_PORT:-8000}" -h "$FILES_DIR"
    ;;
  height) node_height ;;
  upgrade-url) upgrade_url "$@" ;;
  help | -h | --help) usage ;;
  *) exec "$mode" "$@" ;;
esac
