#!/usr/bin/env bash
# Downtime of an at-height upgrade with a data dir of SIZE_MIB (default 1024) MiB: from the old
# node's exit to the new node answering eth_blockNumber, with each DAEMON_BACKUP_COMPRESSION and
# with UNSAFE_SKIP_BACKUP; baselines in the same run: `tar czf` and `cp -a` of the same data dir.
# The data is incompressible (like LevelDB/Pebble files, already snappy-compressed), in 16 MiB
# files, and is read from the page cache in every case. Prints one JSON object per case.
set -euo pipefail
: "${WEMIXVISOR:?path to wemixvisor}" "${FAKENODE:?path to fakenode}"
SIZE_MIB=${SIZE_MIB:-1024}
STEP=0.01 # how often the new node's RPC is tried
T=$(mktemp -d /tmp/wv-bench-downtime.XXXXXX)
trap 'pkill -f -- "$T/" 2>/dev/null || true; rm -rf "$T"' EXIT

mkdir -p "$T/template/chaindata"
for i in $(seq 1 $((SIZE_MIB / 16))); do
  head -c $((16 * 1024 * 1024)) /dev/urandom >"$T/template/chaindata/$(printf '%06d' "$i").ldb"
done
cat "$T"/template/chaindata/* >/dev/null # into the page cache

now_ns() { date +%s%N; }
ms_since() { echo $((($(now_ns) - $1) / 1000000)); }

# one_upgrade LABEL [env...]: an at-height upgrade of a node holding the template data.
one_upgrade() {
  local label=$1
  shift
  local home=$T/home-$label port=$((20000 + RANDOM % 40000))
  mkdir -p "$home"
  cp -al "$T/template" "$home/data" # same bytes, no second GiB on disk
  printf '#!/bin/sh\nexec %q --node-version v1 --block-ms 50 --stop-at 9 "$@"\n' "$FAKENODE" >"$T/v1"
  printf '#!/bin/sh\nexec %q --node-version v2 --block-ms 50 "$@"\n' "$FAKENODE" >"$T/v2"
  chmod 0755 "$T/v1" "$T/v2"
  env DAEMON_HOME="$home" DAEMON_NAME=wemixd "$WEMIXVISOR" init "$T/v1" >/dev/null
  env DAEMON_HOME="$home" DAEMON_NAME=wemixd DAEMON_RPC_ADDRESS=127.0.0.1:$port \
    DAEMON_HEALTH_CHECK_INTERVAL=1s "$@" \
    "$WEMIXVISOR" --log-level warn upgrade schedule v2 --height 10 --binary "$T/v2" >/dev/null 2>&1
  env DAEMON_HOME="$home" DAEMON_NAME=wemixd DAEMON_RPC_ADDRESS=127.0.0.1:$port "$@" \
    "$WEMIXVISOR" --log-level warn run --datadir "$home/data" --http.port "$port" \
    >"$T/agent-$label.log" 2>&1 &
  local agent=$! events="$home/data/fakenode.events" deadline=$((SECONDS + 600))
  until [ -f "$events" ] && grep -q '"event":"exit"' "$events"; do
    [ "$SECONDS" -lt "$deadline" ] || { echo "bench: $label: no stop" >&2; exit 1; }
    sleep "$STEP"
  done
  local exit_ns
  exit_ns=$(jq -s '[.[] | select(.event == "exit")][0].t_ns' "$events")
  until curl -sf -m 1 -H 'Content-Type: application/json' \
    -d '{"jsonrpc":"2.0","id":1,"method":"web3_clientVersion","params":[]}' \
    "http://127.0.0.1:$port" 2>/dev/null | grep -q v2; do
    [ "$SECONDS" -lt "$deadline" ] || { echo "bench: $label: v2 never answered" >&2; exit 1; }
    sleep "$STEP"
  done
  local answered_ns
  answered_ns=$(now_ns)
  kill -TERM "$agent"
  wait "$agent" || true
  local bytes
  bytes=$(du -sb "$home/backups" 2>/dev/null | cut -f1 || echo 0)
  jq -n --arg case "$label" --argjson ms $(((answered_ns - exit_ns) / 1000000)) --argjson bytes "${bytes:-0}" \
    '{case: $case, ms: $ms, backup_bytes: $bytes}'
  rm -rf "$home"
}

one_upgrade "zstd" DAEMON_BACKUP_COMPRESSION=zstd
one_upgrade "gzip" DAEMON_BACKUP_COMPRESSION=gzip
one_upgrade "none" DAEMON_BACKUP_COMPRESSION=none
one_upgrade "no backup" UNSAFE_SKIP_BACKUP=true

t=$(now_ns)
tar czf "$T/baseline.tar.gz" -C "$T/template" .
jq -n --argjson ms "$(ms_since "$t")" --argjson bytes "$(stat -c %s "$T/baseline.tar.gz")" \
  '{case: "tar czf", ms: $ms, backup_bytes: $bytes}'
rm -f "$T/baseline.tar.gz"
t=$(now_ns)
cp -a "$T/template" "$T/baseline-copy"
sync -f "$T/baseline-copy" 2>/dev/null || true
jq -n --argjson ms "$(ms_since "$t")" --argjson bytes "$(du -sb "$T/baseline-copy" | cut -f1)" \
  '{case: "cp -a", ms: $ms, backup_bytes: $bytes}'
