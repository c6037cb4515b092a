#!/usr/bin/env bash
# End to end: 4 validators take a plan of three upgrades (v2, v3, v4 at three heights), each
# binary downloaded from a local HTTP server and checksum-verified by every agent, each switch
# gated by the quorum; wvcoord then reports every node on v4.0.0, past the last height, running,
# with all three upgrades done by all four and nothing to worry about.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_fleet.sh"
: "${WVCOORD:?set by ctest}"
export DAEMON_ALLOW_DOWNLOAD_BINARIES=true UNSAFE_SKIP_BACKUP=true
FLEET_BLOCK_MS=150

http_port=$(free_port)
base="http://127.0.0.1:$http_port"
mkdir -p "$T/www"
for v in 2 3 4; do
  mkdir -p "$T/pkg$v/bin"
  make_node "$T/pkg$v/bin/wemixd" "v$v.0.0"
  tar -czf "$T/www/wemixd-v$v.tar.gz" -C "$T/pkg$v" bin
done
python3 -m http.server "$http_port" --bind 127.0.0.1 --directory "$T/www" >"$T/http.log" 2>&1 &
fleet_on_cleanup "kill $! 2>/dev/null"
served() { curl -sf -o /dev/null "$base/wemixd-v2.tar.gz"; }
wait_for "HTTP server" 10 served

fleet_init 4 v1.0.0
fleet_start_all
for i in 1 2 3 4; do fleet_wait "agent $i hears the others" 30 fleet_live_is "$i" 3; done
h=$(fleet_node_height 1)
H2=$((h + 40)) H3=$((h + 60)) H4=$((h + 80))
plan="$T/plan.json"
{
  printf '{"name": "q4", "upgrades": ['
  sep=
  for v in 2 3 4; do
    eval "hv=\$H$v"
    sum=$(sha256sum "$T/www/wemixd-v$v.tar.gz" | cut -d' ' -f1)
    printf '%s{"name": "v%s", "height": %s, "info": {"binaries": {"any": "%s/wemixd-v%s.tar.gz?checksum=sha256:%s"}}}' \
      "$sep" "$v" "$hv" "$base" "$v" "$sum"
    sep=,
  done
  printf ']}\n'
} >"$plan"
for i in 1 2 3 4; do
  fleet_env "$i" "$WEMIXVISOR" plan add "$plan" >"$T/plan$i.out" 2>&1 || fleet_fail "plan add on $i: $(cat "$T/plan$i.out")"
done

AGENTS=$(for i in 1 2 3 4; do printf '%s,' "$(fleet_endpoint "$i")"; done)
export WVCOORD_AGENTS=${AGENTS%,} WEMIXVISOR_VALIDATORS=$FLEET_VALIDATORS
all_on_v4() {
  "$WVCOORD" status --json >"$T/fleet.json" 2>/dev/null
  jq -e --argjson h "$H4" '(.members | length) == 4 and all(.members[]; .version == "v4.0.0" and .node == "running" and .height > $h)
       and .problems == []' "$T/fleet.json" >/dev/null
}
fleet_wait "wvcoord: all four on v4.0.0 past height $H4" 120 all_on_v4
# every upgrade of the plan was applied by every agent, each after its download
for i in 1 2 3 4; do
  for v in 2 3 4; do fleet_applied "$i" "v$v" || fleet_fail "agent $i did not apply v$v"; done
  jq -e '.status == "completed"' "$(fleet_home "$i")"/wemixvisor/plans/q4-*.json >/dev/null ||
    fleet_fail "plan on $i: $(cat "$(fleet_home "$i")"/wemixvisor/plans/q4-*.json)"
done
for v in 2 3 4; do
  n=$(grep -c "GET /wemixd-v$v.tar.gz" "$T/http.log" || true)
  [ "$n" -ge 4 ] || fleet_fail "v$v was downloaded $n times, not by all four"
done
# each new node started at or before its upgrade's height - 1, never after
for i in 1 2 3 4; do
  ev="$(fleet_home "$i")/data/fakenode.events"
  for v in 2 3 4; do
    eval "hv=\$H$v"
    sh=$(jq -s --arg ver "v$v.0.0" '[.[] | select(.event == "start" and .version == $ver)][0].height' "$ev")
    [ "$sh" != null ] && [ "$sh" -le $((hv - 1)) ] || fleet_fail "agent $i: v$v started at $sh (height $hv)"
  done
done
"$WVCOORD" status >/dev/null || fleet_fail "wvcoord status exits non-zero after the plan"
pass
