#!/usr/bin/env bash
# /metrics in the Prometheus text format when WEMIXVISOR_METRICS_ADDR is set.
source "$(dirname "$0")/lib.sh"
port=$(free_port)
export WEMIXVISOR_METRICS_ADDR=127.0.0.1:$port DAEMON_HEALTH_CHECK_INTERVAL=200ms

init_genesis v1.0.0
start_agent
wait_for "metrics served" 10 agent_log_has "serving metrics"
grep -q "serving metrics.*port=$port" "$AGENT_LOG" || fail "port not logged"
wait_for "healthy" 20 status_is .health healthy
body=$(curl -sf "http://127.0.0.1:$port/metrics") || fail "GET /metrics failed"
# every line is a comment (# HELP / # TYPE) or `name{labels} value`
while IFS= read -r line; do
  [[ "$line" =~ ^#\ (HELP|TYPE)\ [a-zA-Z_:][a-zA-Z0-9_:]*\ .+$ ]] && continue
  [[ "$line" =~ ^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\]|\\.)*\",?)*\})?\ -?[0-9.e+]+$ ]] ||
    fail "not Prometheus text: $line"
done <<<"$body"
grep -qx 'wemixvisor_node_up 1' <<<"$body" || fail "node_up"
grep -qx 'wemixvisor_node_state{state="running"} 1' <<<"$body" || fail "state"
grep -qx 'wemixvisor_node_health{health="healthy"} 1' <<<"$body" || fail "health"
grep -q '^wemixvisor_node_height [1-9]' <<<"$body" || fail "height"
grep -q '^wemixvisor_build_info{version="' <<<"$body" || fail "build_info"
grep -qx 'wemixvisor_node_restarts_total 0' <<<"$body" || fail "restarts"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/nope")
[ "$code" = 404 ] || fail "unknown path: $code"
pass
