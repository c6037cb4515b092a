#!/usr/bin/env bash
# wvcoord watching 4 agents: `status` (table, --json, exit codes), `serve` (/api/fleet,
# /api/upgrades, /healthz, /metrics as Prometheus text), and a node that falls silent: shown as
# silent, never dropped, and `status` then exits 1.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_fleet.sh"
: "${WVCOORD:?set by ctest}"

fleet_init 4 v1.0.0
fleet_start_all
for i in 1 2 3 4; do fleet_wait "agent $i hears 3" 30 fleet_live_is "$i" 3; done
AGENTS=$(for i in 1 2 3 4; do printf '%s,' "$(fleet_endpoint "$i")"; done)
export WVCOORD_AGENTS=${AGENTS%,} WEMIXVISOR_VALIDATORS=$FLEET_VALIDATORS

# one look: everything well → exit 0, 4 members, quorum 3
"$WVCOORD" status >"$T/status.txt" 2>&1 || fail "status exited $?: $(cat "$T/status.txt")"
grep -q "validators 4, quorum 3" "$T/status.txt" || fail "no summary: $(cat "$T/status.txt")"
for i in 1 2 3 4; do grep -q "^${KEY[$i]:0:8} " "$T/status.txt" || fail "node $i missing"; done
"$WVCOORD" status --json >"$T/status.json" || fail "status --json exited $?"
jq -e '(.members | length) == 4 and .quorum == 3 and .validators == 4 and .problems == []
       and all(.members[]; .live and (.silent | not) and .node == "running" and (.address | startswith("tcp://")))' \
  "$T/status.json" >/dev/null || fail "status --json: $(cat "$T/status.json")"

# bad usage exits 2 and says what is wrong
set +e
"$WVCOORD" status --agents "udp://x" >"$T/bad.out" 2>&1
rc=$?
set -e
[ "$rc" = 2 ] && grep -q "udp://x" "$T/bad.out" || fail "bad --agents: rc $rc $(cat "$T/bad.out")"

# the server
PORT=$(free_port)
"$WVCOORD" serve --listen "127.0.0.1:$PORT" >"$T/serve.log" 2>&1 &
COORD_PID=$!
fleet_on_cleanup "kill $COORD_PID 2>/dev/null"
api() { curl -sf "http://127.0.0.1:$PORT$1"; }
heard_all() { [ "$(api /healthz | jq .heard)" = 4 ]; }
fleet_wait "wvcoord serve heard everyone" 20 heard_all
api /api/fleet | jq -e '(.members | length) == 4 and .chain == "wv-test" and .heartbeat_ms == 200' >/dev/null ||
  fail "/api/fleet: $(api /api/fleet)"
api /api/upgrades | jq -e 'type == "array"' >/dev/null || fail "/api/upgrades"
body=$(api /metrics) || fail "GET /metrics"
prometheus_check "$body"
grep -q '^wvcoord_node_up{key="[0-9a-f]\{16\}",role="validator"} 1$' <<<"$body" || fail "node_up"
[ "$(grep -c '^wvcoord_node_height{' <<<"$body")" = 4 ] || fail "4 heights"
grep -q '^wvcoord_messages_dropped_total{reason="signature"} 0$' <<<"$body" || fail "drops"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/nope")" = 404 ] || fail "404"

# the live view: redrawn every heartbeat (200 ms here) until interrupted
timeout -s INT 2 "$WVCOORD" watch >"$T/watch.out" 2>&1 || true
[ "$(grep -c "wvcoord watch — " "$T/watch.out")" -ge 3 ] || fail "watch did not redraw: $(head -20 "$T/watch.out")"
for i in 1 2 3 4; do grep -q "^${KEY[$i]:0:8} " "$T/watch.out" || fail "watch: node $i missing"; done

# agent 4 falls silent: shown silent (not removed), node_up 0, and status exits 1
fleet_stop 4
silent4() { api /api/fleet | jq -e --arg k "${KEY[4]}" '.members[] | select(.key == $k) | .silent' >/dev/null; }
fleet_wait "agent 4 shown silent" 20 silent4
api /api/fleet | jq -e '(.members | length) == 4' >/dev/null || fail "the silent node was dropped"
api /api/fleet | jq -e '.problems | any(test("silent"))' >/dev/null || fail "no problem for the silent node"
api /metrics | grep -q "^wvcoord_node_up{key=\"${KEY[4]:0:16}\",role=\"validator\"} 0$" || fail "node_up of 4"
set +e
"$WVCOORD" status >"$T/status2.txt" 2>&1
rc=$?
set -e
[ "$rc" = 1 ] || fail "status with a node down exited $rc: $(cat "$T/status2.txt")"
grep -q "${KEY[4]:0:8}" "$T/status2.txt" && grep -q "PROBLEMS" "$T/status2.txt" || fail "status: $(cat "$T/status2.txt")"
# the coordinator killed and restarted: it holds no state worth keeping, and has the fleet back
# (the silent node as never heard) within a few heartbeats
kill -KILL "$COORD_PID"
wait_quiet_exit "$COORD_PID" 10 || fail "wvcoord serve survived SIGKILL"
"$WVCOORD" serve --listen "127.0.0.1:$PORT" >"$T/serve2.log" 2>&1 &
COORD_PID=$!
fleet_on_cleanup "kill $COORD_PID 2>/dev/null"
heard_three() { [ "$(api /healthz | jq .heard)" = 3 ]; }
fleet_wait "the restarted wvcoord hears the three agents" 20 heard_three
api /api/fleet | jq -e --arg k "${KEY[4]}" '(.members | length) == 4 and (.members[] | select(.key == $k) | .silent)' \
  >/dev/null || fail "after restart: $(api /api/fleet)"
kill -TERM "$COORD_PID"
wait_quiet_exit "$COORD_PID" 10 || fail "wvcoord serve did not stop on SIGTERM"
pass
