#!/usr/bin/env bash
# The gossip's configuration: `wemixvisor id` and `init` (the agent key), and every refusal of
# `run` with a validator configuration that cannot work: it exits (2 for a bad or missing value)
# with a message that says what is wrong, before it starts the node.
source "$(dirname "$0")/lib.sh"

KEYFILE="$DAEMON_HOME/wemixvisor/identity.key"
# expect CODE PATTERN COMMAND...: COMMAND exits CODE (any non-zero for "nonzero") and says PATTERN.
expect() {
  local code=$1 pattern=$2
  shift 2
  set +e
  out=$(timeout 30 "$@" 2>&1)
  rc=$?
  set -e
  [ "$rc" -ne 124 ] || fail "'$*' did not exit: $out"
  if [ "$code" = nonzero ]; then
    [ "$rc" -ne 0 ] || fail "'$*' succeeded: $out"
  else
    [ "$rc" -eq "$code" ] || fail "expected exit $code from '$*', got $rc: $out"
  fi
  grep -qF -- "$pattern" <<<"$out" || fail "expected '$pattern' in the output of '$*': $out"
}

# id before init: no key yet
expect nonzero "wemixvisor init" "$WEMIXVISOR" id
[ ! -e "$KEYFILE" ] || fail "id created a key"

# init creates the key, 0600; id prints it; a second init keeps it
init_genesis v1.0.0
[ -f "$KEYFILE" ] || fail "init did not create $KEYFILE"
[ "$(stat -c %a "$KEYFILE")" = 600 ] || fail "identity.key mode $(stat -c %a "$KEYFILE"), want 600"
grep -q "created $KEYFILE" "$T/init.out" || fail "init did not say it created the key: $(cat "$T/init.out")"
key=$("$WEMIXVISOR" id) || fail "id after init failed: $key"
[[ "$key" =~ ^[0-9a-f]{64}$ ]] || fail "id printed '$key', not 64 hex digits"
grep -qF "$key" "$T/init.out" || fail "init did not print the key: $(cat "$T/init.out")"
sum=$(sha256sum <"$KEYFILE")
out=$("$WEMIXVISOR" init "$T/stage/genesis" 2>&1) || fail "second init failed: $out"
grep -q "kept $KEYFILE" <<<"$out" || fail "second init did not keep the key: $out"
[ "$(sha256sum <"$KEYFILE")" = "$sum" ] || fail "second init changed identity.key"
[ "$("$WEMIXVISOR" id)" = "$key" ] || fail "the key changed after a second init"
[ "$(stat -c %a "$KEYFILE")" = 600 ] || fail "identity.key mode after a second init"

# another agent's key, for a validator set without this one
other_home="$T/other"
DAEMON_HOME="$other_home" "$WEMIXVISOR" init "$T/stage/genesis" >/dev/null 2>&1 || fail "init of the other home"
other=$(DAEMON_HOME="$other_home" "$WEMIXVISOR" id) || fail "id of the other home"
[ "$other" != "$key" ] || fail "two homes got the same key"

port=$(free_port) peer_port=$(free_port)
# refused CODE PATTERN [-u VAR]... [VAR=VALUE]...: run, with a valid validator configuration
# changed by these, is refused before the node starts
refused() {
  local code=$1 pattern=$2 front=() back=()
  shift 2
  local what="$*"
  while [ $# -gt 0 ]; do
    if [ "$1" = -u ]; then front+=(-u "$2") && shift 2; else back+=("$1") && shift; fi
  done
  expect "$code" "$pattern" env WEMIXVISOR_CHAIN_ID=wv-test WEMIXVISOR_LISTEN="tcp://127.0.0.1:$port" \
    WEMIXVISOR_PEERS="tcp://127.0.0.1:$peer_port" VALIDATOR_MODE=true WEMIXVISOR_VALIDATORS="$key,$other" "${back[@]}" \
    env "${front[@]}" "$WEMIXVISOR" run --datadir "$DATA" --http.port "$RPC_PORT" --block-ms 50
  [ ! -e "$EVENTS" ] || fail "$what: the node was started"
  [ ! -S "$DAEMON_HOME/wemixvisor/agent.sock" ] || fail "$what: agent.sock left behind"
  echo "refused ($what): exit $rc: $(tail -n 1 <<<"$out")"
}
# VALIDATOR_MODE without the validator set
refused 2 "WEMIXVISOR_VALIDATORS is not set" -u WEMIXVISOR_VALIDATORS
grep -qF "VALIDATOR_MODE" <<<"$out" || fail "the message does not name VALIDATOR_MODE: $out"
# this agent not among the validators: the message names its key
refused nonzero "$key" WEMIXVISOR_VALIDATORS="$other"
grep -qF "WEMIXVISOR_VALIDATORS" <<<"$out" || fail "the message does not name WEMIXVISOR_VALIDATORS: $out"
# `rpc` (the set read from the node) is not supported yet, and says so
refused 2 "WEMIXVISOR_VALIDATORS=rpc" WEMIXVISOR_VALIDATORS=rpc
# keys that are not keys
refused 2 "zz" WEMIXVISOR_VALIDATORS="$key,zz"
grep -qF "WEMIXVISOR_VALIDATORS" <<<"$out" || fail "the message does not name WEMIXVISOR_VALIDATORS: $out"
refused 2 "${key:0:63}" WEMIXVISOR_VALIDATORS="${key:0:63}"
refused 2 "g${other:1}" WEMIXVISOR_VALIDATORS="$key,g${other:1}"
# a key listed twice
refused nonzero "listed twice" WEMIXVISOR_VALIDATORS="$key,$other,$key"
# a validator among several that does not publish, or does not listen to the others
refused 2 "WEMIXVISOR_PEERS is not set" -u WEMIXVISOR_PEERS
refused 2 "WEMIXVISOR_LISTEN is not set" -u WEMIXVISOR_LISTEN
# no chain id
refused 2 "WEMIXVISOR_CHAIN_ID" -u WEMIXVISOR_CHAIN_ID
pass
