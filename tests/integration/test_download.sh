#!/usr/bin/env bash
# An upgrade scheduled by URL: the agent downloads the archive from a local HTTP server ahead of
# the height, verifies its sha256 while it streams in, installs upgrades/<name>/ with one rename
# and upgrades at the height. A wrong checksum is refused with both digests and nothing installed.
source "$(dirname "$0")/lib.sh"
export DAEMON_ALLOW_DOWNLOAD_BINARIES=true DAEMON_HEALTH_CHECK_INTERVAL=500ms UNSAFE_SKIP_BACKUP=true

# a release archive: bin/wemixd inside a .tar.gz, served over HTTP on loopback
mkdir -p "$T/www" "$T/pkg/bin"
make_node "$T/pkg/bin/wemixd" v2.0.0
tar -czf "$T/www/wemixd-v2.tar.gz" -C "$T/pkg" bin
sum=$(sha256sum "$T/www/wemixd-v2.tar.gz" | cut -d' ' -f1)
http_port=$(free_port)
python3 -m http.server "$http_port" --bind 127.0.0.1 --directory "$T/www" >"$T/http.log" 2>&1 &
http_pid=$!
trap 'rc=$?; kill "$http_pid" 2>/dev/null || true; cleanup $rc' EXIT
served() { curl -sf -o /dev/null "http://127.0.0.1:$http_port/wemixd-v2.tar.gz"; }
wait_for "HTTP server" 10 served

init_genesis v1.0.0 --stop-at 39
start_agent -- --datadir "$DATA" --http.port "$RPC_PORT" --block-ms 100
wait_for "RPC answers" 10 rpc_answers

# a wrong checksum first: refused, nothing installed, the node runs on
bad=$(printf '%064d' 0)
"$WEMIXVISOR" upgrade schedule vbad --height 30 \
  --url "http://127.0.0.1:$http_port/wemixd-v2.tar.gz?checksum=sha256:$bad" >/dev/null || fail "schedule vbad"
wait_for "mismatch reported" 20 agent_log_has "checksum mismatch"
grep "checksum mismatch" "$AGENT_LOG" | grep -q "$sum" || fail "the message lacks the real digest"
[ ! -e "$DAEMON_HOME/wemixvisor/upgrades/vbad" ] || fail "a bad download was installed"
[ -z "$(ls -A "$DAEMON_HOME/wemixvisor/upgrades" | grep -v '^vbad$' || true)" ] || fail "leftovers: $(ls -A "$DAEMON_HOME/wemixvisor/upgrades")"
"$WEMIXVISOR" upgrade cancel vbad >/dev/null || fail "cancel"

"$WEMIXVISOR" upgrade schedule v2 --height 40 \
  --url "http://127.0.0.1:$http_port/wemixd-v2.tar.gz?checksum=sha256:$sum" >/dev/null || fail "schedule v2"
wait_for "downloaded ahead of the height" 30 test -x "$DAEMON_HOME/wemixvisor/upgrades/v2/bin/wemixd"
wait_for "v2 started" 30 started_is 2 v2.0.0
[ "$(start_height_of 2)" -eq 39 ] || fail "v2 started at $(start_height_of 2)"
wait_for "applied" 20 journal_has_applied v2
pass
