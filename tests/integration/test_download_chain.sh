#!/usr/bin/env bash
# A chain of three upgrades, each named by the running node in its upgrade-info.json with an
# "info" that is a URL (with a checksum) to a JSON file naming the release archive (with its own
# checksum): genesis -> v2 -> v3 -> v4, every binary downloaded, verified and installed.
source "$(dirname "$0")/lib.sh"
export DAEMON_ALLOW_DOWNLOAD_BINARIES=true UNSAFE_SKIP_BACKUP=true

http_port=$(free_port)
base="http://127.0.0.1:$http_port"
mkdir -p "$T/www"
# release N asks for upgrade N+1 three blocks after it starts, naming info N+1 by URL
next_info=""
for v in 4 3 2; do
  mkdir -p "$T/pkg$v/bin"
  if [ -n "$next_info" ]; then
    make_node "$T/pkg$v/bin/wemixd" "v$v.0.0" --upgrade-in 3 --upgrade-name "v$((v + 1))" --upgrade-info "\"$next_info\""
  else
    make_node "$T/pkg$v/bin/wemixd" "v$v.0.0"
  fi
  tar -czf "$T/www/wemixd-v$v.tar.gz" -C "$T/pkg$v" bin
  psum=$(sha256sum "$T/www/wemixd-v$v.tar.gz" | cut -d' ' -f1)
  printf '{"binaries": {"any": "%s/wemixd-v%s.tar.gz?checksum=sha256:%s"}}' "$base" "$v" "$psum" >"$T/www/info$v.json"
  isum=$(sha256sum "$T/www/info$v.json" | cut -d' ' -f1)
  next_info="$base/info$v.json?checksum=sha256:$isum"
done
python3 -m http.server "$http_port" --bind 127.0.0.1 --directory "$T/www" >"$T/http.log" 2>&1 &
http_pid=$!
trap 'rc=$?; kill "$http_pid" 2>/dev/null || true; cleanup $rc' EXIT
served() { curl -sf -o /dev/null "$base/info2.json"; }
wait_for "HTTP server" 10 served

init_genesis v1.0.0 --upgrade-in 3 --upgrade-name v2 --upgrade-info "\"$next_info\""
start_agent
wait_for "v4 running" 60 last_started_is v4.0.0
for v in 2 3 4; do
  started_is "$v" "v$v.0.0" || fail "start $v was $(started_version "$v")"
  grep -q "GET /info$v.json" "$T/http.log" || fail "info$v.json was not fetched"
  grep -q "GET /wemixd-v$v.tar.gz" "$T/http.log" || fail "release v$v was not fetched"
done
wait_for "v4 applied" 20 journal_has_applied v4
pass
