#!/usr/bin/env bash
# init: the layout it creates, that running it twice is safe, and every refusal.
source "$(dirname "$0")/lib.sh"

make_node "$T/stage/genesis" v1.0.0
out=$("$WEMIXVISOR" init "$T/stage/genesis") || fail "init failed: $out"
[ -x "$DAEMON_HOME/wemixvisor/genesis/bin/wemixd" ] || fail "genesis binary missing or not executable"
cmp -s "$T/stage/genesis" "$DAEMON_HOME/wemixvisor/genesis/bin/wemixd" || fail "genesis copy differs"
[ "$(current_target)" = genesis ] || fail "current should be a relative link to genesis, is $(current_target)"
for d in wemixvisor/upgrades wemixvisor/plans data; do
  [ -d "$DAEMON_HOME/$d" ] || fail "$d not created"
done

# twice is safe, and leaves an upgraded current alone
"$WEMIXVISOR" init "$T/stage/genesis" >/dev/null || fail "second init failed"
mkdir -p "$DAEMON_HOME/wemixvisor/upgrades/v2/bin"
ln -sfn upgrades/v2 "$DAEMON_HOME/wemixvisor/current"
"$WEMIXVISOR" init "$T/stage/genesis" >/dev/null || fail "third init failed"
[ "$(current_target)" = upgrades/v2 ] || fail "init reset an upgraded current"

# expect_refusal CODE PATTERN COMMAND...: the command fails with CODE and says PATTERN.
expect_refusal() {
  local code=$1 pattern=$2
  shift 2
  set +e
  out=$("$@" 2>&1)
  rc=$?
  set -e
  [ "$rc" -eq "$code" ] || fail "expected exit $code from '$*', got $rc: $out"
  grep -q -- "$pattern" <<<"$out" || fail "expected '$pattern' in: $out"
}

expect_refusal 2 "exactly one argument" "$WEMIXVISOR" init
expect_refusal 1 "No such file" "$WEMIXVISOR" init "$T/nope"
expect_refusal 1 "is a directory" "$WEMIXVISOR" init "$T/stage"
make_node "$T/stage/other" v9.9.9
expect_refusal 1 "differs" "$WEMIXVISOR" init "$T/stage/other"

fresh="$T/fresh"
expect_refusal 2 "not an absolute path" env DAEMON_HOME=relative/home "$WEMIXVISOR" init "$T/stage/genesis"
expect_refusal 2 "DAEMON_HOME is not set" env -u DAEMON_HOME "$WEMIXVISOR" init "$T/stage/genesis"
expect_refusal 2 "DAEMON_NAME is not set" env -u DAEMON_NAME DAEMON_HOME="$fresh" "$WEMIXVISOR" init "$T/stage/genesis"
[ ! -e "$fresh" ] || fail "a refused init created $fresh"

mkdir -p "$fresh/wemixvisor"
echo "not a link" >"$fresh/wemixvisor/current"
expect_refusal 1 "not a symlink" env DAEMON_HOME="$fresh" "$WEMIXVISOR" init "$T/stage/genesis"
[ ! -e "$fresh/wemixvisor/genesis" ] || fail "a refused init wrote genesis"
pass
