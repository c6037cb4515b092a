#!/usr/bin/env bash
# A batch plan of three upgrades runs in height order through the ordinary pipeline; an invalid
# plan is refused with every problem listed and changes nothing.
source "$(dirname "$0")/lib.sh"
export DAEMON_HEALTH_CHECK_INTERVAL=500ms UNSAFE_SKIP_BACKUP=true

# each release stalls at the block before the next one's height
init_genesis v1.0.0 --stop-at 19
make_node "$T/stage/v2" v2.0.0 --stop-at 29
make_node "$T/stage/v3" v3.0.0 --stop-at 39
make_node "$T/stage/v4" v4.0.0
start_agent -- --datadir "$DATA" --http.port "$RPC_PORT" --block-ms 100
wait_for "RPC answers" 10 rpc_answers

cat >"$T/bad.json" <<JSON
{"name": "q1", "upgrades": [
  {"name": "v2", "height": 30, "binary": "$T/stage/v2"},
  {"name": "v2", "height": 20, "binary": "$T/stage/nope"},
  {"name": "v3", "height": 1, "info": {"binaries": {"any": "http://127.0.0.1:1/x"}}}
]}
JSON
set +e
out=$("$WEMIXVISOR" plan add "$T/bad.json" 2>&1)
rc=$?
set -e
[ "$rc" -ne 0 ] || fail "an invalid plan was accepted"
n=$(grep -cE '^ *[0-9]+[.)]' <<<"$out" || true)
[ "$n" -ge 4 ] || fail "expected every problem listed (at least 4), got $n: $out"
[ -z "$(ls -A "$DATA/upgrades" 2>/dev/null)" ] || fail "a refused plan scheduled something"

cat >"$T/plan.json" <<JSON
{"name": "q1", "upgrades": [
  {"name": "v2", "height": 20, "binary": "$T/stage/v2"},
  {"name": "v3", "height": 30, "binary": "$T/stage/v3"},
  {"name": "v4", "height": 40, "binary": "$T/stage/v4"}
]}
JSON
"$WEMIXVISOR" plan add "$T/plan.json" >/dev/null || fail "plan add"
ls "$DAEMON_HOME"/wemixvisor/plans/q1-*.json >/dev/null || fail "no plan file"
wait_for "v4 running" 60 last_started_is v4.0.0
for i in 2 3 4; do
  started_is "$i" "v$i.0.0" || fail "start $i was $(started_version "$i")"
done
[ "$(start_height_of 2)" -eq 19 ] && [ "$(start_height_of 3)" -eq 29 ] && [ "$(start_height_of 4)" -eq 39 ] ||
  fail "switch heights: $(start_height_of 2) $(start_height_of 3) $(start_height_of 4)"
wait_for "v4 applied" 20 journal_has_applied v4
"$WEMIXVISOR" plan show q1 --json | jq -e '[.upgrades[].status] == ["done", "done", "done"]' >/dev/null ||
  fail "plan show: $("$WEMIXVISOR" plan show q1 --json)"
pass
