#!/usr/bin/env bash
# wemixvisor backup create/list/verify/restore/clean, as an operator uses them: the restored
# data dir equals the original byte for byte; restore is refused while the agent runs the node.
source "$(dirname "$0")/lib.sh"

init_genesis v1.0.0
mkdir -p "$DATA/chaindata/sub"
head -c 500000 /dev/urandom >"$DATA/chaindata/000001.ldb"
echo "config" >"$DATA/sub.toml"
chmod 0600 "$DATA/sub.toml"
ln -s chaindata/000001.ldb "$DATA/link"
cp -a "$DATA" "$T/orig"

archive=$("$WEMIXVISOR" backup create --label manual --compression zstd) || fail "create"
[ -f "$archive" ] || fail "no archive at $archive"
[ "$(stat -c %a "$archive")" = 600 ] || fail "archive mode"
[ "$(stat -c %a "$DAEMON_HOME/backups")" = 700 ] || fail "dir mode"
"$WEMIXVISOR" backup list --json | jq -e --arg a "$archive" '.[0].path == $a' >/dev/null || fail "list"
"$WEMIXVISOR" backup verify "$archive" >/dev/null || fail "verify"

# damage the data, restore, compare
rm -rf "$DATA/chaindata"
echo "changed" >"$DATA/sub.toml"
"$WEMIXVISOR" backup restore "$archive" >/dev/null || fail "restore"
diff -r --no-dereference "$T/orig" "$DATA" || fail "restored data differs"
[ "$(stat -c %a "$DATA/sub.toml")" = 600 ] || fail "mode not kept"
[ "$(readlink "$DATA/link")" = chaindata/000001.ldb ] || fail "symlink not kept"

# a damaged archive is refused and changes nothing
cp "$archive" "$T/bad.tar.zst"
cp "$archive.sha256" "$T/bad.tar.zst.sha256"
sed -i "s|$(basename "$archive")|bad.tar.zst|" "$T/bad.tar.zst.sha256"
printf 'X' | dd of="$T/bad.tar.zst" bs=1 seek=1000 conv=notrunc 2>/dev/null
if "$WEMIXVISOR" backup verify "$T/bad.tar.zst" >/dev/null 2>&1; then fail "a damaged archive verified"; fi
if "$WEMIXVISOR" backup restore "$T/bad.tar.zst" >/dev/null 2>&1; then fail "a damaged archive restored"; fi
diff -r --no-dereference "$T/orig" "$DATA" >/dev/null || fail "a refused restore changed the data"

# refused while the agent runs the node
start_agent
wait_for "node started" 10 node_started 1
set +e
out=$("$WEMIXVISOR" backup restore "$archive" 2>&1)
rc=$?
set -e
[ "$rc" -ne 0 ] || fail "restore under a running node was accepted"
stop_agent

"$WEMIXVISOR" backup create --label second >/dev/null || fail "second create"
"$WEMIXVISOR" backup create --label third --compression none >/dev/null || fail "third create"
[ "$("$WEMIXVISOR" backup list --json | jq length)" -eq 3 ] || fail "three archives expected"
"$WEMIXVISOR" backup clean --keep 1 >/dev/null || fail "clean"
"$WEMIXVISOR" backup list --json | jq -e 'length == 1 and (.[0].label == "third")' >/dev/null ||
  fail "clean kept: $("$WEMIXVISOR" backup list --json)"
set +e
"$WEMIXVISOR" backup clean >/dev/null 2>&1
rc=$?
set -e
[ "$rc" -eq 2 ] || fail "clean without a limit: exit $rc"
pass
