#!/usr/bin/env bash
# shellcheck disable=SC2119 # fleet_start_all passes its arguments on to the nodes
# The dashboard of `wvcoord serve`, as an operator's browser shows it: four agents with fake nodes,
# an upgrade whose binary only two of them have (2/4 ready, quorum 3), and headless Chromium loading
# the page. The DOM after the page's scripts ran must show every node, the upgrade's progress and
# the problem; then with one agent stopped, its row still there and marked silent. Screenshots of
# both are kept in build/test-artifacts/ (WV_ARTIFACTS_DIR). Needs the `chromium` package
# (scripts/install-deps.sh); WV_SKIP_BROWSER=1 skips the test (exit 77).

TEST_NAME=$(basename "$0" .sh)
if [ "${WV_SKIP_BROWSER:-0}" = 1 ]; then
  echo "SKIP $TEST_NAME: WV_SKIP_BROWSER=1"
  exit 77
fi
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [ -z "$CHROMIUM" ]; then
  echo "FAIL $TEST_NAME: chromium is not installed; run scripts/install-deps.sh (it installs" \
    "scripts/packages.txt), or set WV_SKIP_BROWSER=1 to skip this test" >&2
  exit 1
fi

source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_fleet.sh"
: "${WVCOORD:?set by ctest: path to the wvcoord binary}"

here=$(cd "$(dirname "$0")" && pwd)
PAGE_SRC="$here/../../coordinator/dashboard.html"
ARTIFACTS=${WV_ARTIFACTS_DIR:-$(cd "$(dirname "$WVCOORD")/.." && pwd)/test-artifacts}
CHROMIUM_RUN_SECS=45 # one headless run (start-up, page, screenshot) on a loaded machine
PAGE_BUDGET_MS=2000  # virtual time the page runs for: ten heartbeats of 200 ms

# The page treats every API field as untrusted text and works offline: no HTML built from strings,
# no eval, no URL outside the coordinator.
if grep -nE 'innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function' "$PAGE_SRC"; then
  fail "dashboard.html builds HTML from strings (above): use DOM calls and textContent"
fi
if grep -nE 'https?://|//cdn|@import' "$PAGE_SRC"; then
  fail "dashboard.html refers to something outside the coordinator (above): it must work offline"
fi

fleet_init 4 v1.0.0
for i in 1 2 3 4; do fleet_schedule "$i" v2 100000; done
fleet_install 1 v2 v2.0.0
fleet_install 2 v2 v2.0.0
fleet_start_all

WEB_PORT=$(free_port)
URL="http://127.0.0.1:$WEB_PORT/"
agents=
for i in 1 2 3 4; do agents="${agents:+$agents,}$(fleet_endpoint "$i")"; done
WVCOORD_AGENTS=$agents WEMIXVISOR_VALIDATORS=$FLEET_VALIDATORS \
  "$WVCOORD" serve --listen "127.0.0.1:$WEB_PORT" >"$T/wvcoord.log" 2>&1 &
COORD_PID=$!
fleet_on_cleanup "kill -TERM $COORD_PID 2>/dev/null; wait_quiet_exit $COORD_PID 10 || kill -KILL $COORD_PID 2>/dev/null"

fleet_api() { curl -sf -m 2 "${URL}api/fleet"; }
# fleet_api_has JQ: the coordinator's /api/fleet satisfies JQ.
fleet_api_has() { fleet_api | jq -e "$1" >/dev/null; }
coord_fail() {
  echo "--- wvcoord log" >&2
  tail -n 20 "$T/wvcoord.log" >&2 || true
  echo "--- /api/fleet" >&2
  fleet_api >&2 || echo "(no answer)" >&2
  fleet_fail "$@"
}

# The page is loaded only once the coordinator has heard every agent and counted the votes.
fleet_wait "the coordinator to hear all four agents" 30 \
  fleet_api_has '[.members[] | select(.live)] | length == 4'
fleet_wait "the coordinator to count 2/4 ready for v2" 20 \
  fleet_api_has '[.upgrades[] | select(.name == "v2" and .ready == 2 and .quorum == 3)] | length == 1'

# The served page is the source tree's (wvcoord embeds it at build time).
curl -sf -m 5 "$URL" | cmp -s - "$PAGE_SRC" ||
  coord_fail "wvcoord serves another page than coordinator/dashboard.html: rebuild it (cmake --build build --target wvcoord)"

mkdir -p "$ARTIFACTS"
# browse NAME: loads the page in headless Chromium and lets its scripts run PAGE_BUDGET_MS of
# virtual time; leaves the DOM in $T/NAME.html, its summary (dashboard_dom.py) in $T/NAME.json
# and a screenshot in $ARTIFACTS/NAME.png. A second try if the browser leaves no rendered page.
browse() {
  local name=$1
  for _ in 1 2; do
    rm -rf "$T/chromium"
    # --no-sandbox: tests run as root in containers, where Chromium's sandbox cannot start.
    HOME="$T/chromium" timeout "$CHROMIUM_RUN_SECS" "$CHROMIUM" --headless=new --no-sandbox \
      --disable-gpu --disable-dev-shm-usage --no-first-run --disable-extensions \
      --disable-background-networking --disable-component-update --disable-sync \
      --user-data-dir="$T/chromium/profile" --enable-logging=stderr --v=0 \
      --virtual-time-budget="$PAGE_BUDGET_MS" --window-size=1280,900 \
      --screenshot="$ARTIFACTS/$name.png" --dump-dom "$URL" \
      >"$T/$name.html" 2>"$T/$name.chromium.log" || true
    python3 "$here/dashboard_dom.py" "$T/$name.html" >"$T/$name.json" 2>>"$T/$name.chromium.log" &&
      jq -e '.updates > 0' "$T/$name.json" >/dev/null && return 0
  done
  echo "--- chromium log" >&2
  tail -n 20 "$T/$name.chromium.log" >&2
  coord_fail "$name: headless Chromium did not leave a rendered dashboard (DOM in $T/$name.html)"
}
# dom NAME JQ WHAT: the summary of page NAME satisfies JQ, or the test fails saying WHAT.
dom() {
  jq -e "$2" "$T/$1.json" >/dev/null || {
    echo "--- page summary ($T/$1.json)" >&2
    cat "$T/$1.json" >&2
    fail "$1: $3"
  }
}
no_script_errors() {
  if grep -E 'CONSOLE.*(Uncaught|Error)' "$T/$1.chromium.log" >&2; then
    fail "$1: the page's scripts failed (above)"
  fi
}

# 1. Every node live; the upgrade short of quorum.
browse dashboard
no_script_errors dashboard
dom dashboard '.conn == "ok" and .banner == null' "the page says it is not connected"
dom dashboard '.chain == "wv-test" and .validators == "4" and .quorum == "3" and .tolerated == "1"' \
  "the header: chain, validators, quorum, tolerated"
dom dashboard '.live == "4/4" and (.network_height | tonumber) > 0' "the header: live count, network height"
dom dashboard '.rows | length == 4' "want four node rows"
for i in 1 2 3 4; do
  phase=waiting
  [ "$i" -le 2 ] && phase=ready
  dom dashboard "[.rows[] | select(.key == \"${KEY[$i]}\" and .title == \"${KEY[$i]}\"
                  and .short == \"${KEY[$i]:0:8}\" and .silent == \"false\" and .role == \"validator\"
                  and .node == \"running\" and .version == \"v1.0.0\"
                  and .address == \"$(fleet_endpoint "$i")\" and .phases.v2 == \"$phase\")] | length == 1" \
    "agent $i's row (key ${KEY[$i]}, v2 $phase)"
done
dom dashboard '[.upgrades[] | select(.name == "v2")] | length == 1' "want one card for upgrade v2"
dom dashboard '.upgrades[] | select(.name == "v2") | .ready == "2" and .validators == "4"
               and .quorum == "3" and .progress == "2/4 ready, need 3" and .bar_now == "2"
               and .state == "short" and .height == "100000"' "v2's progress: 2/4 ready, need 3"
dom dashboard ".upgrades[] | select(.name == \"v2\") | .nodes == {\"${KEY[1]}\": \"ready\",
               \"${KEY[2]}\": \"ready\", \"${KEY[3]}\": \"waiting\", \"${KEY[4]}\": \"waiting\"}" \
  "v2's node phases: agents 1 and 2 ready, 3 and 4 waiting"
dom dashboard '.problems | any(test("v2 is short of quorum: 2/4 ready, need 3"))' \
  "the problems list should say v2 is short of quorum"

# 2. Agent 4 stopped: its row stays, marked silent, and the problem is listed.
fleet_stop 4
fleet_wait "the coordinator to show agent 4 silent" 20 \
  fleet_api_has ".members[] | select(.key == \"${KEY[4]}\") | .silent"
browse dashboard-silent
no_script_errors dashboard-silent
dom dashboard-silent '.rows | length == 4' "agent 4's row must stay when it goes silent"
dom dashboard-silent "[.rows[] | select(.key == \"${KEY[4]}\" and .silent == \"true\" and .silent_badge
                       and (.classes | index(\"silent\")))] | length == 1" "agent 4's row marked silent"
dom dashboard-silent "[.rows[] | select(.silent == \"false\")] | length == 3" "the other rows not silent"
dom dashboard-silent '.live == "3/4"' "the header's live count"
dom dashboard-silent ".problems | any(test(\"node ${KEY[4]:0:8} is silent\"))" \
  "the problems list should name the silent node"
dom dashboard-silent '.upgrades[] | select(.name == "v2") | .ready == "2" and .quorum == "3"' \
  "v2 still 2/4 ready, need 3"

for name in dashboard dashboard-silent; do
  [ "$(head -c 8 "$ARTIFACTS/$name.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] ||
    fail "no PNG screenshot at $ARTIFACTS/$name.png"
  echo "screenshot: $ARTIFACTS/$name.png"
done
pass
