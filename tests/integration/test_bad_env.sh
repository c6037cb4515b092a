#!/usr/bin/env bash
# Every invalid variable value: exit 2 before touching anything, naming the variable and value.
source "$(dirname "$0")/lib.sh"

make_node "$T/stage/genesis" v1.0.0
# check VAR VALUE PATTERN
check() {
  set +e
  out=$(env "$1=$2" "$WEMIXVISOR" init "$T/stage/genesis" 2>&1)
  rc=$?
  set -e
  [ "$rc" -eq 2 ] || fail "$1=$2: exit $rc, want 2: $out"
  grep -qF -- "$1" <<<"$out" || fail "$1=$2: message does not name the variable: $out"
  grep -qF -- "$2" <<<"$out" || fail "$1=$2: message does not name the value: $out"
  grep -qF -- "$3" <<<"$out" || fail "$1=$2: message does not say what is allowed ($3): $out"
  [ ! -e "$DAEMON_HOME" ] || fail "$1=$2: something was created"
}
check DAEMON_POLL_INTERVAL abc "ms, s, m or h"
check DAEMON_POLL_INTERVAL 300 "needs a unit"
check DAEMON_POLL_INTERVAL 1.5s "ms, s, m or h"
check DAEMON_SHUTDOWN_GRACE 5x "unknown unit"
check DAEMON_SHUTDOWN_GRACE 2h "out of range"
check DAEMON_RESTART_DELAY -1s "ms, s, m or h"
check DAEMON_HEALTH_CHECK_INTERVAL 10ms "out of range"
check DAEMON_RESTART_AFTER_UPGRADE yes "true or false"
check DAEMON_RESTART_ON_FAILURE 1 "true or false"
check UNSAFE_SKIP_BACKUP maybe "true or false"
check DAEMON_MAX_RESTARTS -1 "from 0 to 1000"
check DAEMON_MAX_RESTARTS lots "from 0 to 1000"
check DAEMON_PREUPGRADE_MAX_RETRIES 101 "from 0 to 100"
check DAEMON_RPC_ADDRESS nope "host:port"
check DAEMON_RPC_ADDRESS localhost:99999 "1 to 65535"
check DAEMON_HOME relative/dir "absolute path"
check DAEMON_NAME a/b "plain file name"
check DAEMON_DATA_BACKUP_DIR backups "absolute path"
check COSMOVISOR_CUSTOM_PREUPGRADE ./hook.sh "absolute path"
check WEMIXVISOR_CUSTOM_PREUPGRADE hook.sh "absolute path"
check DAEMON_LOG_FILE node.log "absolute path"
check WEMIXVISOR_WATCH sometimes "auto or poll"
check DAEMON_BACKUP_COMPRESSION xz "zstd, gzip or none"
check DAEMON_PREUPGRADE_TIMEOUT forever "ms, s, m or h"
check DAEMON_UPGRADE_VERIFY_TIMEOUT 10 "needs a unit"
check DAEMON_LOG_MAX_SIZE 10 "out of range"
check DAEMON_LOG_MAX_SIZE 5PB "unknown unit"
check DAEMON_LOG_MAX_FILES 0 "from 1 to 100"
check WEMIXVISOR_METRICS_ADDR nope "host:port"

# the same checks hold for `run`: it exits 2 and starts nothing
set +e
out=$(env DAEMON_POLL_INTERVAL=fast "$WEMIXVISOR" run --datadir "$DATA" 2>&1)
rc=$?
set -e
[ "$rc" -eq 2 ] || fail "run with a bad variable: exit $rc"
[ ! -e "$DAEMON_HOME" ] || fail "run with a bad variable created something"

# a config file with an unknown key, or a bad value, is refused the same way
mkdir -p "$T/cfg"
echo '{"DAEMON_POLL_INTERVALL": "1s"}' >"$T/cfg/a.json"
set +e
out=$("$WEMIXVISOR" --config "$T/cfg/a.json" config 2>&1)
rc=$?
set -e
[ "$rc" -eq 2 ] && grep -q 'unknown key "DAEMON_POLL_INTERVALL"' <<<"$out" || fail "unknown key: $rc $out"
echo '{"DAEMON_MAX_RESTARTS": "many"}' >"$T/cfg/b.json"
set +e
out=$("$WEMIXVISOR" --config "$T/cfg/b.json" config 2>&1)
rc=$?
set -e
[ "$rc" -eq 2 ] && grep -q "DAEMON_MAX_RESTARTS (in $T/cfg/b.json)" <<<"$out" || fail "bad file value: $rc $out"
pass
