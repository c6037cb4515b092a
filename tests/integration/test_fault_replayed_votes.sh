#!/usr/bin/env bash
# shellcheck disable=SC2119 # fleet_start passes its arguments on to the node
# Fault: a peer replays a real validator's OLD votes, live. Four validators (quorum 3); agent 2
# ("B") is ready for v2 while wvload records its real signed STATEs off its PUB socket. Then B
# withdraws (its v2 binary is removed: it publishes "waiting"), agent 3 gets its binary, so two
# are truly ready (1 and 3), and wvload replays B's recorded "ready" STATEs verbatim (B's key
# frame, seq and signature) from a socket every agent and wvcoord subscribe to.
# What the operator sees while the replay runs:
#   - nobody arms: no `armed:` log line; `peers --json` of every agent counts 2 ready for v2,
#     shows B's entry "waiting" and B heard directly; /metrics of the ready agents say
#     wemixvisor_quorum_ready{upgrade="v2"} 2 and wemixvisor_upgrade_armed{upgrade="v2"} 0;
#   - the replays are refused as `old`: `peers --json` .dropped.old and
#     wemixvisor_gossip_dropped_total{reason="old"} rise on the three victims, which log
#     `message dropped ... reason=old` once;
#   - wvcoord: `serve`'s /api/fleet and a one-look `status --json` show B's newest state (v2
#     waiting), never the replayed one, and count the replays in .dropped.old.
# A victim (agent 1) restarted during the replay, while B's agent is frozen (SIGSTOP), has
# forgotten B's last seq: its `peers --json` shows B live and "ready" (the replayed STATEs are
# accepted, within the ten-minute seq window), yet it counts 2 ready and logs no `armed:`, since
# they were sent before it started; once B is back its view shows B waiting again.
# Then B's binary is back (and agent 4 gets its own): the upgrade arms and completes on all four,
# replays still running; each ends with current -> upgrades/v2 and one node, v2.0.0, that its
# agent reports running; wvcoord shows all four on v2.0.0 with v2 done by 4/4.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_fleet.sh"
: "${WVCOORD:?set by ctest}"
WVLOAD=${WVLOAD:-$(dirname "$FAKENODE")/wvload}
[ -x "$WVLOAD" ] || fail "wvload not built next to the fake node ($WVLOAD)"

B=2
RECORDED=15 # B's STATEs to record (3 s of heartbeats)
# The height is far enough that the replay is over before it (nobody is due yet); on a slow
# machine it may come first, and then the ready agents are blocked instead: nobody arms either way.
H=250
REPLAY_PORT=$(free_port)
REPLAYER="tcp://127.0.0.1:$REPLAY_PORT"
export FLEET_EXTRA_PEERS=$REPLAYER # every agent subscribes to the replayer (B ignores itself)

fleet_init 4 v1.0.0 --stop-at $((H - 1))
declare -a MPORT
for i in 1 2 3 4; do
  fleet_schedule "$i" v2 "$H"
  MPORT[i]=$(free_port)
done
fleet_install 1 v2 v2.0.0
fleet_install "$B" v2 v2.0.0
for i in 1 2 3 4; do WEMIXVISOR_METRICS_ADDR="127.0.0.1:${MPORT[$i]}" fleet_start "$i"; done
for i in 1 2 3 4; do fleet_wait "agent $i hears the 3 others" 30 fleet_live_is "$i" 3; done

COORD_PORT=$(free_port)
AGENTS=$(for i in 1 2 3 4; do printf '%s,' "$(fleet_endpoint "$i")"; done)
export WVCOORD_AGENTS="$AGENTS$REPLAYER" WEMIXVISOR_VALIDATORS=$FLEET_VALIDATORS
"$WVCOORD" serve --listen "127.0.0.1:$COORD_PORT" >"$T/coord.log" 2>&1 &
COORD_PID=$!
fleet_on_cleanup "kill $COORD_PID 2>/dev/null"
api() { curl -sf "http://127.0.0.1:$COORD_PORT$1"; }

# the phase of B's v2 entry in a fleet document (agent view or wvcoord's)
b_phase_in() { jq -r --arg k "${KEY[$B]}" '.members[] | select(.key == $k) | [.upgrades[] | select(.name == "v2") | .phase][0] // ""'; }
agent_sees_b() { [ "$(fleet_peers_json "$1" | b_phase_in)" = "$2" ]; }
coord_sees_b() { [ "$(api /api/fleet | b_phase_in)" = "$1" ]; }

# --- 1. B is ready: record its real signed STATEs off its own PUB socket
fleet_wait "B ready for v2" 30 fleet_phase_is "$B" v2 ready
for i in 1 3 4; do fleet_wait "agent $i sees B ready" 10 agent_sees_b "$i" ready; done
"$WVLOAD" --record "$(fleet_endpoint "$B")" --out "$T/b.rec" --count "$RECORDED" --duration 30s \
  >"$T/record.out" 2>"$T/record.err" || fail "wvload --record: $(cat "$T/record.err")"
[ "$(wc -l <"$T/b.rec")" -eq "$RECORDED" ] || fail "recorded $(wc -l <"$T/b.rec") messages, want $RECORDED"
# every recorded message is B's own STATE voting ready for v2 (wvload decodes what it records)
[ "$(grep -c "^from=${KEY[$B]} seq=[0-9]* height=[0-9]* upgrades=v2:ready$" "$T/record.out")" -eq "$RECORDED" ] ||
  fail "the recording is not B's ready votes: $(cat "$T/record.out")"
fleet_phase_is "$B" v2 ready || fail "B left ready while recorded: $(fleet_phase "$B" v2)"

# --- 2. B withdraws: its binary is removed, it publishes "waiting"; agent 3 becomes ready
rm "$(fleet_home "$B")/wemixvisor/upgrades/v2/bin/$DAEMON_NAME"
fleet_wait "B withdraws (waiting)" 20 fleet_phase_is "$B" v2 waiting
for i in 1 3 4; do fleet_wait "agent $i sees B waiting" 10 agent_sees_b "$i" waiting; done
fleet_wait "wvcoord sees B waiting" 10 coord_sees_b waiting
fleet_install 3 v2 v2.0.0
ready_is() { [ "$(fleet_peers_json "$1" | jq '[.upgrades[] | select(.name == "v2" and .ready > 0) | .ready][0] // 0')" = "$2" ]; }
for i in 1 2 3 4; do fleet_wait "agent $i counts 2 ready (1 and 3)" 20 ready_is "$i" 2; done

# --- 3. the replay: B's old ready votes, verbatim, all 15 every 150 ms
old_drops() { fleet_peers_json "$1" | jq '.dropped.old'; }
declare -a OLD0
for i in 1 3 4; do OLD0[i]=$(old_drops "$i"); done
COORD_OLD0=$(api /api/fleet | jq .dropped.old)
"$WVLOAD" --replay "$T/b.rec" --bind "$REPLAYER" --period 150ms >"$T/replay.log" 2>&1 &
REPLAY_PID=$!
fleet_on_cleanup "kill $REPLAY_PID 2>/dev/null"

# nothing of it may count, on any agent nor on wvcoord, at any look while it runs
nobody_armed() {
  local i
  for i in 1 2 3 4; do
    ! fleet_log_has "$i" "armed:" || fleet_fail "agent $i armed on replayed votes"
    fleet_peers_json "$i" >"$T/view$i.json"
    jq -e --arg k "${KEY[$B]}" '
      ([.upgrades[] | select(.name == "v2" and .ready > 0)] | length == 1 and
        (.[0] | .ready == 2 and .armed == 0 and (.quorum_reached | not))) and
      (.members[] | select(.key == $k) | .direct and
        ([.upgrades[] | select(.name == "v2") | .phase] == ["waiting"]))' "$T/view$i.json" >/dev/null ||
      fleet_fail "agent $i counts a replayed vote, or hears B otherwise than directly: $(jq -c --arg k "${KEY[$B]}" \
        '{upgrades: [.upgrades[] | {name, ready, armed}], b: (.members[] | select(.key == $k) | {direct, upgrades})}' "$T/view$i.json")"
  done
  for i in 1 3; do [[ "$(fleet_phase "$i" v2)" =~ ^(ready|blocked)$ ]] || fleet_fail "agent $i: phase $(fleet_phase "$i" v2)"; done
  coord_sees_b waiting || fleet_fail "wvcoord serve shows B's v2 as $(api /api/fleet | b_phase_in)"
}
replays_refused() {
  local i
  for i in 1 3 4; do [ "$(old_drops "$i")" -ge $((OLD0[i] + 3 * RECORDED)) ] || return 1; done
  [ "$(api /api/fleet | jq .dropped.old)" -ge $((COORD_OLD0 + 3 * RECORDED)) ]
}
beats0=$(fleet_sent 1)
deadline=$((SECONDS + 60))
until replays_refused && fleet_sent_at_least 1 $((beats0 + 15)); do
  [ "$SECONDS" -lt "$deadline" ] || fleet_fail "the replays were not all refused as old: $(for i in 1 3 4; do
    printf 'agent %s old %s -> %s; ' "$i" "${OLD0[i]}" "$(old_drops "$i")"; done) wvcoord $(api /api/fleet | jq -c .dropped)"
  nobody_armed
  sleep "$POLL_STEP" # the poll of a deadline-bound wait that checks an invariant every turn
done
nobody_armed
kill -0 "$REPLAY_PID" 2>/dev/null || fail "the replayer died: $(cat "$T/replay.log")"

# a one-look wvcoord, started in the middle of the replay, shows B's newest state too
for n in 1 2 3; do
  "$WVCOORD" status --json >"$T/look$n.json" 2>"$T/look$n.err" || true
  [ "$(b_phase_in <"$T/look$n.json")" = waiting ] ||
    fail "wvcoord status --json (look $n) shows B's v2 as '$(b_phase_in <"$T/look$n.json")', a replayed state"
done

for i in 1 3 4; do
  fleet_log_has "$i" 'message dropped .*reason=old' || fleet_fail "agent $i did not log the old drop"
  ! fleet_log_has "$i" 'reason=signature' || fleet_fail "agent $i: replays refused for their signature, not their seq"
done
for i in 1 3; do
  m=$(curl -sf "http://127.0.0.1:${MPORT[$i]}/metrics") || fleet_fail "agent $i: GET /metrics failed"
  old=$(sed -n 's/^wemixvisor_gossip_dropped_total{reason="old"} \([0-9]*\)$/\1/p' <<<"$m")
  [ "${old:-0}" -ge $((3 * RECORDED)) ] || fleet_fail "agent $i: /metrics old drops ${old:-none}"
  grep -qx 'wemixvisor_quorum_ready{upgrade="v2"} 2' <<<"$m" || fleet_fail "agent $i: metrics: $(grep v2 <<<"$m")"
  grep -qx 'wemixvisor_upgrade_armed{upgrade="v2"} 0' <<<"$m" || fleet_fail "agent $i: metrics armed: $(grep v2 <<<"$m")"
done
grep -q 'message dropped.*reason=old' "$T/coord.log" || fail "wvcoord did not log the old drop: $(cat "$T/coord.log")"

# --- 3b. a victim restarts during the replay, while B does not get through to it (B's agent is
# frozen): the restarted agent 1 has forgotten B's last seq, so it accepts the replayed STATEs
# (within the ten-minute seq window) and shows B "ready" and live; sent before it started, they
# are no votes: it counts 2 ready and does not arm. Then B is back and replaces them.
kill -STOP "${APID[$B]}"
fleet_on_cleanup "kill -CONT ${APID[$B]} 2>/dev/null"
fleet_stop 1
WEMIXVISOR_METRICS_ADDR="127.0.0.1:${MPORT[1]}" fleet_start 1
fleet_wait "restarted agent 1 hears the replayed B" 30 agent_sees_b 1 ready
fleet_wait "restarted agent 1 hears 3 others live (B through the replay)" 20 fleet_live_is 1 3
voting() { [[ "$(fleet_phase 1 v2)" =~ ^(ready|blocked|armed)$ ]]; }
fleet_wait "restarted agent 1 votes for v2" 20 voting
beats1=$(fleet_sent 1)
deadline=$((SECONDS + 60))
until fleet_sent_at_least 1 $((beats1 + 10)); do
  [ "$SECONDS" -lt "$deadline" ] || fleet_fail "agent 1 stopped sending its heartbeat"
  ! fleet_log_has 1 "armed:" || fleet_fail "the restarted agent 1 armed on B's replayed vote"
  ready_is 1 2 || fleet_fail "the restarted agent 1 counts $(fleet_peers_json 1 | jq -c '[.upgrades[] | {name, ready}]')"
  agent_sees_b 1 ready || fleet_fail "B reached agent 1 while frozen?"
  sleep "$POLL_STEP" # as above
done
kill -CONT "${APID[$B]}"
fleet_wait "agent 1 sees B's newest state again" 20 agent_sees_b 1 waiting
nobody_armed

# --- 4. B is ready again (and agent 4 gets its binary): the upgrade completes, replays go on
fleet_install "$B" v2 v2.0.0
fleet_install 4 v2 v2.0.0
for i in 1 2 3 4; do fleet_wait "v2 applied on agent $i" 90 fleet_applied "$i" v2; done
kill -0 "$REPLAY_PID" 2>/dev/null || fail "the replayer died: $(cat "$T/replay.log")"
kill "$REPLAY_PID"
wait "$REPLAY_PID" 2>/dev/null || true
grep -q "replayed=[1-9]" "$T/replay.log" || fail "replayer: $(cat "$T/replay.log")"

for i in 1 2 3 4; do
  fleet_log_has "$i" "armed: a quorum of validators is ready" || fleet_fail "agent $i: not armed at the end"
  grep -q 'armed: .* ready=[34] quorum=3' "$(fleet_log "$i")" || fleet_fail "agent $i: $(grep 'armed:' "$(fleet_log "$i")")"
  want=2
  [ "$i" -ne 1 ] || want=3 # agent 1 was restarted: v1.0.0, v1.0.0 again, then v2.0.0
  [ "$(fleet_starts "$i")" -eq "$want" ] || fleet_fail "agent $i: $(fleet_starts "$i") node starts, want $want"
  fleet_started_is "$i" 1 v1.0.0 || fleet_fail "agent $i: first node $(fleet_start_field "$i" 1 version)"
  fleet_assert_consistent "$i" upgrades/v2 v2.0.0
done
fleet_check_stops "$H" 2 1 2 3 4
all_done() {
  api /api/fleet >"$T/fleet.json" && fleet_coord_done "$T/fleet.json" v2.0.0 v2
}
fleet_wait "wvcoord shows all four on v2.0.0, v2 done" 20 all_done
pass
