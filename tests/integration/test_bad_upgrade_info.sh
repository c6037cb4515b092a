#!/usr/bin/env bash
# Every malformed upgrade-info.json is a clear error and nothing is switched; a file caught
# half-written is read again, not rejected.
source "$(dirname "$0")/lib.sh"

init_genesis v1.0.0
install_upgrade v2 v2.0.0
start_agent
wait_for "node started" 10 node_started 1

# check_bad CONTENT PATTERN: the agent reports the file once, with PATTERN, and current stays
# at genesis.
n=0
errors_reported() { [ "$(grep -c 'upgrade info is invalid' "$AGENT_LOG")" -ge "$1" ]; }
check_bad() {
  n=$((n + 1))
  write_upgrade_info "$1"
  wait_for "error $n for $1" 10 errors_reported "$n"
  grep 'upgrade info is invalid' "$AGENT_LOG" | tail -n 1 | grep -q -- "$2" ||
    fail "the error for $1 does not say '$2'"
  current_is genesis || fail "switched on bad input $1"
}
check_bad '' "empty file"
check_bad '{}' 'name.. is missing'
check_bad '[1,2]' "not a JSON object"
check_bad '{"height":10}' 'name.. is missing'
check_bad '{"name":5,"height":10}' "must be a string"
check_bad '{"name":"v2"}' 'height.. is missing'
check_bad '{"name":"v2","height":0}' "at least 1"
check_bad '{"name":"v2","height":-5}' "at least 1"
check_bad '{"name":"v2","height":"100"}' "whole number"
check_bad '{"name":"v2","height":1.5}' "whole number"
check_bad '{"name":"../evil","height":10}' "only A-Z"
check_bad '{"name":"..","height":10}' "not names"
check_bad '{"name":".","height":10}' "not names"
check_bad '{"name":"has space","height":10}' "only A-Z"
check_bad "{\"name\":\"$(printf 'a%.0s' $(seq 129))\",\"height\":10}" "1 to 128"
check_bad '{"name":"v2","height":10' "not valid JSON"
kill -0 "$AGENT_PID" || fail "agent died on bad input"
[ "$(events_count event start)" -eq 1 ] || fail "the node was restarted by bad input"
[ "$(grep -c 'upgrade info is invalid' "$AGENT_LOG")" -eq "$n" ] || fail "an invalid file was reported more than once"

# a valid file after all that is applied
write_upgrade_info '{"name":"v2","height":10}'
wait_for "v2 started" 20 started_is 2 v2.0.0
pass
