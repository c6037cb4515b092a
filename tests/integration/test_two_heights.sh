#!/usr/bin/env bash
# Two upgrades scheduled at two heights are applied in order; a height already passed, a name
# already applied and bad arguments are refused.
source "$(dirname "$0")/lib.sh"
export DAEMON_HEALTH_CHECK_INTERVAL=500ms UNSAFE_SKIP_BACKUP=true

# each release stalls at the block before its successor's height, as releases without the fork do
init_genesis v1.0.0 --stop-at 19
make_node "$T/stage/v2" v2.0.0 --stop-at 39
make_node "$T/stage/v3" v3.0.0
start_agent -- --datadir "$DATA" --http.port "$RPC_PORT" --block-ms 100
wait_for "RPC answers" 10 rpc_answers
h=$(rpc_height)
[ "$h" -lt 15 ] || fail "the chain is already at $h"
"$WEMIXVISOR" upgrade schedule v3 --height 40 --binary "$T/stage/v3" >/dev/null || fail "schedule v3"
"$WEMIXVISOR" upgrade schedule v2 --height 20 --binary "$T/stage/v2" >/dev/null || fail "schedule v2"

set +e
out=$("$WEMIXVISOR" upgrade schedule v9 --height "$h" --binary "$T/stage/v2" 2>&1)
rc=$?
set -e
[ "$rc" -ne 0 ] && grep -qi "height" <<<"$out" || fail "a passed height was accepted: $out"
set +e
out=$("$WEMIXVISOR" upgrade schedule ../x --height $((h + 100)) --binary "$T/stage/v2" 2>&1)
rc=$?
set -e
[ "$rc" -ne 0 ] || fail "a bad name was accepted"

wait_for "v2 then v3" 60 started_is 3 v3.0.0
started_is 2 v2.0.0 || fail "second start was $(started_version 2)"
[ "$(start_height_of 2)" -eq 19 ] || fail "v2 started at $(start_height_of 2)"
[ "$(start_height_of 3)" -eq 39 ] || fail "v3 started at $(start_height_of 3)"
wait_for "journal" 10 journal_has_applied v3
journal_has_applied v2 || fail "v2 not in the journal"
pass
