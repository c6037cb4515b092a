#!/usr/bin/env bash
# The main job, for now: a fake WBFT node upgraded under wemixvisor, end to end, on this machine.
# Installs the packages, builds, sets up a throw-away DAEMON_HOME, runs the node under the agent
# until the node asks for an upgrade at its height, and shows the switch. Cleans up on exit.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/install-deps.sh"
echo "== building"
"$top/scripts/build.sh" "$top/build"
W=$top/build/agent/wemixvisor
F=$top/build/tests/fixtures/fakenode

T=$(mktemp -d /tmp/wemixvisor-demo.XXXXXX)
agent=
cleanup() {
  [ -n "$agent" ] && kill -TERM "$agent" 2>/dev/null && wait "$agent" 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT INT TERM
# a free port for the node's JSON-RPC, which the agent reads for the height and health
port=$((20000 + RANDOM % 40000))
while ss -Htln "sport = :$port" | grep -q .; do port=$((20000 + RANDOM % 40000)); done
export DAEMON_HOME=$T/home DAEMON_NAME=wemixd DAEMON_SHUTDOWN_GRACE=10s \
  DAEMON_RPC_ADDRESS=127.0.0.1:$port DAEMON_HEALTH_CHECK_INTERVAL=1s
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
wait_for() { # wait_for SECONDS COMMAND...
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || { echo "demo: timed out" >&2; exit 1; }
    sleep 0.2
  done
}

# Two releases of the fake node: v1.0.0 writes upgrade-info.json for v2.0.0 when it reaches
# block 14 (the upgrade height is 15) and stalls there, as an old binary does at a fork.
release() {
  printf '#!/bin/sh\nexec %q --node-version %q %s "$@"\n' "$F" "$2" "$3" >"$1"
  chmod 0755 "$1"
}
release "$T/wemixd-v1" v1.0.0 "--upgrade-height 15 --upgrade-name v2.0.0"
release "$T/wemixd-v2" v2.0.0 ""

step "wemixvisor init: the genesis binary"
"$W" init "$T/wemixd-v1"
step "the v2.0.0 binary is placed in upgrades/v2.0.0/bin (later: downloaded by the agent)"
mkdir -p "$DAEMON_HOME/wemixvisor/upgrades/v2.0.0/bin"
cp "$T/wemixd-v2" "$DAEMON_HOME/wemixvisor/upgrades/v2.0.0/bin/wemixd"
(cd "$DAEMON_HOME" && find wemixvisor | sort | sed 's/^/  /')

step "wemixvisor run: the node produces blocks; at block 14 it asks for v2.0.0"
"$W" run --datadir "$DAEMON_HOME/data" --http.port "$port" --block-ms 300 &
agent=$!
rpc() { # rpc METHOD: the result of a JSON-RPC call to the running node
  curl -sf -H 'Content-Type: application/json' \
    -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$1\",\"params\":[]}" \
    "http://127.0.0.1:$(cat "$DAEMON_HOME/data/fakenode.port")" | jq -r .result
}
is_v2() { [ "$(readlink "$DAEMON_HOME/wemixvisor/current")" = upgrades/v2.0.0 ] && rpc web3_clientVersion | grep -q v2.0.0; }
wait_for 30 is_v2
# the agent verifies that the new binary goes past the upgrade height, then records it as done
applied() { jq -e '.applied | length == 1' "$DAEMON_HOME/wemixvisor/state.json"; }
wait_for 30 applied

step "summary"
echo "  current  -> $(readlink "$DAEMON_HOME/wemixvisor/current")"
echo "  node     :  $(rpc web3_clientVersion) at block $(($(rpc eth_blockNumber)))"
echo "  journal  :  $(jq -c '.applied' "$DAEMON_HOME/wemixvisor/state.json")"
echo "  backup   :  $(ls "$DAEMON_HOME"/backups/*.tar 2>/dev/null | xargs -n1 basename)"
echo "  $("$W" version | tail -n 1)"
step "stopping (SIGTERM to the agent stops the node first)"
kill -TERM "$agent"
wait "$agent" || true
agent=
echo "done: the node was upgraded from v1.0.0 to v2.0.0 at height 15 by wemixvisor."
