#!/usr/bin/env bash
# Fault suite, storage: the disk fills up while an upgrade's binary is downloaded and unpacked.
# $DAEMON_HOME/wemixvisor/upgrades is a tmpfs; the release (the fake node's script followed by
# 3 MB of random bytes, which sh never reads past its exec) is served over HTTP with a checksum
# and unpacked as a raw binary. In turn:
#   1 MiB, no Content-Length from the server: the agent's own download fills the disk and fails
#          on ENOSPC mid-way;
#   1 MiB, with Content-Length: `wemixvisor prepare-upgrade` (as an operator runs it) refuses
#          before writing anything;
#   4 MiB: the download fits, unpacking it next to it does not (prepare-upgrade);
#   16 MiB: it is installed and the upgrade goes on by itself.
# The operator sees:
#   - log: `download output line="wemixvisor prepare-upgrade: downloading <url>: cannot write
#     <upgrades>/.v2.download.<pid>.tmp.<x>: No space left on device; free space in <upgrades>"`,
#     then `downloading the upgrade failed; trying again later retry_in_ms=30000` and `upgrade
#     binary is missing; the node is left as it is ...`;
#   - `wemixvisor status --json`: .state "running", .pending_upgrade.waiting_for "its binary";
#   - `wemixvisor prepare-upgrade v2`: exit 1, "downloading <url>: it needs 3000086 bytes and
#     <upgrades> has only <n> bytes free; free space there (nothing more was written)", then at
#     4 MiB "<file>: cannot unpack bin/wemixd: No space left on device; free space in <upgrades>".
# End state: after each failure upgrades/ is empty (no `.v2.download.*`, no `.v2.tmp.*`, no v2),
# the node kept running v1 and was never stopped; at the end it runs v2, consistent, the data as
# it was. Needs root (mount); skipped otherwise.
source "$(dirname "$0")/lib.sh"
export DAEMON_ALLOW_DOWNLOAD_BINARIES=true DAEMON_HEALTH_CHECK_INTERVAL=300ms DAEMON_SHUTDOWN_GRACE=2s

init_genesis v1.0.0
UPG="$DAEMON_HOME/wemixvisor/upgrades"
mkdir -p "$UPG"
mount -t tmpfs -o size=1m tmpfs "$UPG" 2>/dev/null || skip "cannot mount a tmpfs here (needs root)"

mkdir -p "$T/www"
make_node "$T/www/wemixd-v2" v2.0.0
head -c 3000000 /dev/urandom >>"$T/www/wemixd-v2"
sum=$(sha256sum "$T/www/wemixd-v2" | cut -d' ' -f1)
http_port=$(free_port)
# a file server that leaves out Content-Length while $T/no-length exists (HTTP/1.0: the body
# ends when the connection closes), as some servers and proxies do
cat >"$T/serve.py" <<'PY'
import http.server, os, sys
port, root, flag = int(sys.argv[1]), sys.argv[2], sys.argv[3]
class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=root, **kwargs)
    def send_header(self, key, value):
        if key.lower() == "content-length" and os.path.exists(flag):
            return
        super().send_header(key, value)
http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
PY
touch "$T/no-length"
python3 "$T/serve.py" "$http_port" "$T/www" "$T/no-length" >"$T/http.log" 2>&1 &
http_pid=$!
trap 'rc=$?; kill "$http_pid" 2>/dev/null || true; umount -l "$UPG" 2>/dev/null || true; cleanup $rc' EXIT
url="http://127.0.0.1:$http_port/wemixd-v2"
served() { curl -sf -o /dev/null "$url"; }
wait_for "HTTP server" 10 served
upgrades_empty() { [ -z "$(ls -A "$UPG")" ]; }

seed_chain_data 200000
start_agent
wait_for "node started" 10 node_started 1
wait_for "RPC answers" 10 rpc_answers
write_upgrade_info "{\"name\":\"v2\",\"height\":5,\"info\":{\"binaries\":{\"any\":\"$url?checksum=sha256:$sum\"}}}"

# 1 MiB, no size announced: the agent's download fills the disk and runs out of space
wait_for "the download failed" 30 agent_log_has "downloading the upgrade failed; trying again later"
line=$(grep "download output" "$AGENT_LOG" | grep "No space left on device" || true)
[ -n "$line" ] || fail "the download's error does not name ENOSPC"
grep -q "cannot write $UPG/\.v2\.download\.[0-9]*\.tmp\.[A-Za-z0-9]*: No space left on device; free space in $UPG" <<<"$line" ||
  fail "the download's error does not name the file and the dir: $line"
upgrades_empty || fail "left in upgrades/ after a failed download: $(ls -A "$UPG")"
wait_for "status says why" 10 status_is .pending_upgrade.waiting_for "its binary"
status_is .state running || fail "status: $(status_field -c '{state, pending_upgrade}')"
agent_log_has "upgrade binary is missing; the node is left as it is" || fail "no 'binary is missing' line"

# 1 MiB, the size announced: refused before a byte is written
rm "$T/no-length"
set +e
"$WEMIXVISOR" prepare-upgrade v2 >"$T/prepare.out" 2>&1
code=$?
set -e
[ "$code" -eq 1 ] || fail "prepare-upgrade exited $code: $(tail -3 "$T/prepare.out")"
grep -q "it needs $(stat -c %s "$T/www/wemixd-v2") bytes and $UPG has only [0-9]* bytes free; free space there" "$T/prepare.out" ||
  fail "prepare-upgrade does not give the sizes: $(tail -3 "$T/prepare.out")"
upgrades_empty || fail "left in upgrades/ after a refused download: $(ls -A "$UPG")"

# 4 MiB: the download fits, unpacking it does not (the operator tries by hand)
mount -o remount,size=4m "$UPG" || fail "cannot grow the tmpfs"
set +e
"$WEMIXVISOR" prepare-upgrade v2 >"$T/prepare.out" 2>&1
code=$?
set -e
[ "$code" -eq 1 ] || fail "prepare-upgrade exited $code: $(tail -3 "$T/prepare.out")"
grep -q "No space left on device; free space in $UPG" "$T/prepare.out" ||
  fail "prepare-upgrade does not say where to free space: $(tail -3 "$T/prepare.out")"
grep -q "cannot unpack bin/wemixd" "$T/prepare.out" ||
  fail "not the unpack that failed: $(tail -3 "$T/prepare.out")"
wait_for "nothing left in upgrades/" 10 upgrades_empty

h=$(node_height)
wait_for "the node keeps producing" 10 height_at_least $((h + 3))
[ "$(events_count event sigterm)" -eq 0 ] || fail "the node was stopped while the binary was missing"
current_is genesis || fail "current -> $(current_target)"

# 16 MiB: installed; the agent finds the binary and upgrades
mount -o remount,size=16m "$UPG" || fail "cannot grow the tmpfs"
"$WEMIXVISOR" prepare-upgrade v2 >"$T/prepare.out" 2>&1 || agent_log_has "installed upgrade=v2" ||
  fail "prepare-upgrade with room: $(tail -3 "$T/prepare.out")"
wait_for "v2 started" 30 started_is 2 v2.0.0
wait_for "applied" 30 journal_has_applied v2
assert_consistent upgrades/v2 v2.0.0
cmp -s "$T/www/wemixd-v2" "$UPG/v2/bin/wemixd" || fail "the installed binary is not the release"
[ "$(ls -A "$UPG")" = v2 ] || fail "upgrades/ holds: $(ls -A "$UPG")"
pass
