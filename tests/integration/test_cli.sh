#!/usr/bin/env bash
# help for every command, version with the node's version, config with sources and --json.
source "$(dirname "$0")/lib.sh"

"$WEMIXVISOR" --help | grep -q "usage: wemixvisor" || fail "--help"
"$WEMIXVISOR" help | grep -q "commands:" || fail "help"
for c in init run status start stop restart upgrade plan prepare-upgrade backup version config help; do
  "$WEMIXVISOR" help "$c" | grep -q "usage: wemixvisor $c" || fail "help $c"
  "$WEMIXVISOR" "$c" --help | grep -q "usage: wemixvisor $c" || fail "$c --help"
done
set +e
"$WEMIXVISOR" frobnicate >/dev/null 2>&1
[ $? -eq 2 ] || fail "unknown command should exit 2"
set -e
"$WVCOORD" --help | grep -q "usage: wvcoord" || fail "wvcoord --help"

init_genesis v1.4.2
out=$("$WEMIXVISOR" version)
grep -q "^wemixvisor " <<<"$out" || fail "version: $out"
grep -q "wemixd v1.4.2 (current: genesis)" <<<"$out" || fail "node version: $out"
"$WEMIXVISOR" version --json | jq -e '.node.version == "v1.4.2"' >/dev/null || fail "version --json"

mkdir -p "$DAEMON_HOME/wemixvisor"
echo '{"DAEMON_RESTART_DELAY": "1m", "DAEMON_MAX_RESTARTS": 9, "DAEMON_POLL_INTERVAL": "1s"}' \
  >"$DAEMON_HOME/wemixvisor/config.json"
json=$(DAEMON_POLL_INTERVAL=2s "$WEMIXVISOR" config --json)
jq -e '.variables.DAEMON_RESTART_DELAY == {"value":"1m","source":"file","read_as":"DAEMON_RESTART_DELAY"}' <<<"$json" >/dev/null || fail "file value: $json"
jq -e '.variables.DAEMON_MAX_RESTARTS.value == "9"' <<<"$json" >/dev/null || fail "integer in file: $json"
jq -e '.variables.DAEMON_POLL_INTERVAL == {"value":"2s","source":"env","read_as":"DAEMON_POLL_INTERVAL"}' <<<"$json" >/dev/null || fail "env wins: $json"
jq -e '.variables.DAEMON_MAX_RESTARTS.source == "file" and .variables.DAEMON_HEALTH_CHECK_INTERVAL.source == "default"' <<<"$json" >/dev/null || fail "sources: $json"
jq -e ".file == \"$DAEMON_HOME/wemixvisor/config.json\"" <<<"$json" >/dev/null || fail "file: $json"
"$WEMIXVISOR" config | grep -E '^DAEMON_RESTART_DELAY +1m +file' >/dev/null || fail "text config"
WEMIXVISOR_CUSTOM_PREUPGRADE=/bin/true "$WEMIXVISOR" config --json |
  jq -e '.variables.COSMOVISOR_CUSTOM_PREUPGRADE.read_as == "WEMIXVISOR_CUSTOM_PREUPGRADE"' >/dev/null || fail "alias"

# --log-format json gives JSON lines
start_agent_json() { "$WEMIXVISOR" --log-format json run --datadir "$DATA" --http.port 0 >"$AGENT_LOG" 2>&1 & AGENT_PID=$!; }
start_agent_json
wait_for "node started" 10 node_started 1
stop_agent
grep '"component"' "$AGENT_LOG" | head -3 | jq -e '.level and .time and .msg' >/dev/null || fail "json logs: $(head -3 "$AGENT_LOG")"
pass
