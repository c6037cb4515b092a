#!/usr/bin/env bash
# Downloads, continued: an upgrade-info whose "info" is a URL to a JSON file (checksummed) that
# names a .zip with the binary at its root; a URL without a checksum refused, then accepted with
# UNSAFE_SKIP_CHECKSUM (and warned about).
source "$(dirname "$0")/lib.sh"
export DAEMON_ALLOW_DOWNLOAD_BINARIES=true UNSAFE_SKIP_BACKUP=true

mkdir -p "$T/www" "$T/zip"
make_node "$T/zip/wemixd" v3.0.0
(cd "$T/zip" && python3 -c 'import zipfile, os, sys
with zipfile.ZipFile(sys.argv[1], "w") as z:
    i = zipfile.ZipInfo("wemixd"); i.external_attr = 0o755 << 16
    z.writestr(i, open("wemixd", "rb").read())' "$T/www/wemixd-v3.zip")
zsum=$(sha256sum "$T/www/wemixd-v3.zip" | cut -d' ' -f1)
http_port=$(free_port)
base="http://127.0.0.1:$http_port"
printf '{"binaries": {"linux/amd64": "%s/wemixd-v3.zip?checksum=sha256:%s"}}' "$base" "$zsum" >"$T/www/info.json"
isum=$(sha256sum "$T/www/info.json" | cut -d' ' -f1)
make_node "$T/www/wemixd-v4" v4.0.0
python3 -m http.server "$http_port" --bind 127.0.0.1 --directory "$T/www" >"$T/http.log" 2>&1 &
http_pid=$!
trap 'rc=$?; kill "$http_pid" 2>/dev/null || true; cleanup $rc' EXIT
served() { curl -sf -o /dev/null "$base/info.json"; }
wait_for "HTTP server" 10 served

init_genesis v1.0.0
start_agent
wait_for "node started" 10 node_started 1
write_upgrade_info "{\"name\":\"v3\",\"height\":3,\"info\":\"$base/info.json?checksum=sha256:$isum\"}"
wait_for "v3 from the zip" 30 last_started_is v3.0.0
[ -x "$DAEMON_HOME/wemixvisor/upgrades/v3/bin/wemixd" ] || fail "binary not at bin/"
stop_agent

# no checksum: refused by prepare-upgrade; accepted with the unsafe flag, and warned about
write_upgrade_info "{\"name\":\"v4\",\"height\":4,\"info\":{\"binaries\":{\"any\":\"$base/wemixd-v4\"}}}"
set +e
out=$("$WEMIXVISOR" prepare-upgrade v4 2>&1)
rc=$?
set -e
[ "$rc" -ne 0 ] && grep -qi "checksum" <<<"$out" || fail "a URL without a checksum was accepted: $out"
[ ! -e "$DAEMON_HOME/wemixvisor/upgrades/v4" ] || fail "installed without a checksum"
out=$(UNSAFE_SKIP_CHECKSUM=true "$WEMIXVISOR" prepare-upgrade v4 2>&1) || fail "unsafe flag: $out"
grep -q "UNSAFE_SKIP_CHECKSUM" <<<"$out" || fail "no warning: $out"
[ -x "$DAEMON_HOME/wemixvisor/upgrades/v4/bin/wemixd" ] || fail "v4 not installed"
pass
