#!/usr/bin/env bash
# shellcheck disable=SC2119 # fleet_start_all passes its arguments on to the nodes
# Four validators, all ready for the same binary: each arms once it sees a quorum (3 of 4) ready,
# and each stops its old node at height - 1 (at the latest: one lagging behind the network height
# is stopped where it is) and starts the new one there. `wemixvisor peers`
# then shows 4/4 ready, quorum 3, phase done.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_fleet.sh"

H=40
fleet_init 4 v1.0.0 --stop-at $((H - 1)) # the old release stalls at H-1 by itself
for i in 1 2 3 4; do
  fleet_schedule "$i" v2 "$H"
  fleet_install "$i" v2 v2.0.0
done
fleet_start_all
for i in 1 2 3 4; do fleet_wait "v2 applied on agent $i" 60 fleet_applied "$i" v2; done

for i in 1 2 3 4; do
  fleet_current_is "$i" upgrades/v2 || fleet_fail "agent $i: current is $(readlink "$(fleet_home "$i")/wemixvisor/current")"
  # the first node was the old release, the second the new one, started where the old one stopped
  fleet_started_is "$i" 1 v1.0.0 || fleet_fail "agent $i: first node $(fleet_start_field "$i" 1 version)"
  fleet_started_is "$i" 2 v2.0.0 || fleet_fail "agent $i: second node $(fleet_start_field "$i" 2 version)"
  [ "$(fleet_starts "$i")" -eq 2 ] || fleet_fail "agent $i: $(fleet_starts "$i") node starts, want 2"
  fleet_log_has "$i" "armed: a quorum of validators is ready" || fleet_fail "agent $i: not logged as armed"
  fleet_log_has "$i" "upgrade done name=v2" || fleet_fail "agent $i: not logged as done"
  ! fleet_log_has "$i" "upgrade blocked" || fleet_fail "agent $i: logged as blocked"
done

# Every old node stopped at H-1 at the latest; a quorum of them (whose reports made the network
# height H-1) exactly there.
fleet_check_stops "$H" 3 1 2 3 4

# Every agent's view: 4/4 for the one triple, quorum 3, its own phase done (a done vote is
# published once the next heartbeat after the upgrade carries it).
all_done_in_view() {
  fleet_peers_json "$1" | jq -e '
    .validators == 4 and .quorum == 3 and .tolerated == 1 and .role == "validator" and
    ([.members[] | select(.live)] | length) == 4 and
    (.upgrades | length) == 1 and
    (.upgrades[0] | .name == "v2" and .height == 40 and .ready == 4 and .quorum == 3 and
      .validators == 4 and .done == 4 and .conflicts == 0 and .blocked == 0 and
      .quorum_reached and .phase == "done")'
}
for i in 1 2 3 4; do fleet_wait "agent $i sees 4/4 done" 15 all_done_in_view "$i"; done
view=$(fleet_peers_json 1)
jq -e --arg k "${KEY[1]}" '.self == $k and ([.members[] | select(.self)] | .[0].key) == $k' <<<"$view" >/dev/null ||
  fleet_fail "peers --json: self is not agent 1's key: $view"
# nothing refused (a relayed copy of a state already heard directly, or heard after a newer one,
# is a harmless duplicate or old)
jq -e '.dropped | del(.duplicate, .old) | [.[]] | add == 0' <<<"$view" >/dev/null ||
  fleet_fail "messages dropped: $(jq -c .dropped <<<"$view")"

# status --json carries the same view under "gossip"
fleet_status 1 '.gossip.upgrades[0].phase' | grep -qx 'done' || fleet_fail "status --json .gossip: $(fleet_status 1 .gossip)"

# the text form: the header, every member, the upgrade line with 4/4 and quorum
text=$(fleet_env 1 "$WEMIXVISOR" peers) || fleet_fail "peers (text) failed: $text"
grep -q '^validators 4, quorum 3 (wbft), 1 may be down' <<<"$text" || fleet_fail "peers header: $text"
for i in 1 2 3 4; do
  grep -q "^${KEY[$i]:0:8} .*v2:done" <<<"$text" || fleet_fail "peers: no line for agent $i: $text"
done
grep -q '(self)' <<<"$text" || fleet_fail "peers: no self line: $text"
grep -Eq '^v2 +40 +[0-9a-f]{8} +4/4 +3 +0 +done +quorum$' <<<"$text" || fleet_fail "peers: upgrade line: $text"
pass
