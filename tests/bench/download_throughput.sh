#!/usr/bin/env bash
# Download-and-verify of a SIZE_MIB (default 256) MiB binary over loopback: `wemixvisor
# prepare-upgrade` (libcurl, sha256 while streaming, install with one rename) against
# `curl -o` followed by `sha256sum` of the same file from the same server, in the same run.
# The server is Python's http.server on 127.0.0.1. Prints one JSON object per case (best of 3).
set -euo pipefail
: "${WEMIXVISOR:?path to wemixvisor}"
SIZE_MIB=${SIZE_MIB:-256}
STEP=0.05
T=$(mktemp -d /tmp/wv-bench-download.XXXXXX)
port=$((20000 + RANDOM % 40000))
mkdir -p "$T/www"
head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom >"$T/www/wemixd"
sum=$(sha256sum "$T/www/wemixd" | cut -d' ' -f1)
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$T/www" >/dev/null 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -rf "$T"' EXIT
until curl -sf -o /dev/null -r 0-0 "http://127.0.0.1:$port/wemixd"; do sleep "$STEP"; done
url="http://127.0.0.1:$port/wemixd"
now_ns() { date +%s%N; }

best_ms() { sort -n | head -1; }

runs=()
for i in 1 2 3; do
  home=$T/home$i
  export DAEMON_HOME=$home DAEMON_NAME=wemixd DAEMON_ALLOW_DOWNLOAD_BINARIES=true \
    DAEMON_RPC_ADDRESS=127.0.0.1:$((port + 1))
  printf '#!/bin/sh\nexit 0\n' >"$T/genesis"
  chmod +x "$T/genesis"
  "$WEMIXVISOR" init "$T/genesis" >/dev/null
  "$WEMIXVISOR" upgrade schedule v2 --height 100 --url "$url?checksum=sha256:$sum" >/dev/null 2>&1
  t=$(now_ns)
  "$WEMIXVISOR" --log-level warn prepare-upgrade v2 >/dev/null 2>&1
  runs+=($((($(now_ns) - t) / 1000000)))
  cmp -s "$T/www/wemixd" "$home/wemixvisor/upgrades/v2/bin/wemixd" || { echo "bench: bad install" >&2; exit 1; }
  rm -rf "$home"
done
jq -n --argjson ms "$(printf '%s\n' "${runs[@]}" | best_ms)" --argjson mib "$SIZE_MIB" \
  '{case: "wemixvisor prepare-upgrade", ms: $ms, mib: $mib}'

runs=()
for i in 1 2 3; do
  t=$(now_ns)
  curl -sf -o "$T/copy" "$url"
  got=$(sha256sum "$T/copy" | cut -d' ' -f1)
  runs+=($((($(now_ns) - t) / 1000000)))
  [ "$got" = "$sum" ] || { echo "bench: curl got a different file" >&2; exit 1; }
  rm -f "$T/copy"
done
jq -n --argjson ms "$(printf '%s\n' "${runs[@]}" | best_ms)" --argjson mib "$SIZE_MIB" \
  '{case: "curl -o + sha256sum", ms: $ms, mib: $mib}'
