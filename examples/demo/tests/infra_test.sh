#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# ctest demo.infra: the demo's servers, Prometheus and cleanup (lib/), driven
# through infra_run.sh (the demo without its services) on ephemeral ports:
#
#   1. a run starts PostgreSQL (seeded), Redis, s3rver and Prometheus, each
#      answers, then Ctrl-C (SIGINT) stops it: exit 130, and no process,
#      listening port or temporary directory of it remains;
#   2. a second run right after works and ends by itself after --duration,
#      leaving nothing behind either;
#   3. a port that is already in use fails the run at once with a message
#      naming the port and its holder, not a hang, and starts nothing;
#   4. demo_cleanup stops a process's children too and is safe to call twice.
#
# The leftovers are checked with ps and ss here, not with lib/'s own checks.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
run=$here/infra_run.sh
work=$(mktemp -d "${TMPDIR:-/tmp}/obs-demo-infra-test.XXXXXX")
# PostgreSQL runs as the postgres user and must reach its directory in here.
chmod 755 "$work"
run_pid='' listener_pid=''

finish() {
  local rc=$?
  # A run that is still going cleans up after itself on SIGTERM.
  if [[ -n $run_pid ]] && kill -0 "$run_pid" 2>/dev/null; then
    kill -TERM "$run_pid" 2>/dev/null || true
    wait "$run_pid" 2>/dev/null || true
  fi
  if [[ -n $listener_pid ]]; then kill "$listener_pid" 2>/dev/null || true; fi
  rm -rf "$work"
  exit "$rc"
}
trap finish EXIT

fail() {
  printf 'FAIL: %s\n' "$*" >&2
  for f in "$work"/*.log; do
    [[ -f $f ]] && { printf -- '--- %s\n' "$f" >&2; tail -n 30 "$f" >&2; }
  done
  exit 1
}
pass() { printf 'ok: %s\n' "$*"; }

# The runs put their temporary directories here, so the test can tell that
# none is left.
export TMPDIR=$work/tmp
mkdir -p "$TMPDIR"

# The prometheus.sh helpers under test, pointed at a run by DEMO_PROM_URL.
# shellcheck source=../lib/prometheus.sh
. "$here/../lib/prometheus.sh"

# wait_for_state FILE PID SECONDS: until the run PID wrote FILE (everything
# is up), failing early if it exits.
wait_for_state() {
  local file=$1 pid=$2 deadline=$((SECONDS + $3))
  until [[ -f $file ]]; do
    kill -0 "$pid" 2>/dev/null || fail "the run exited before it was up"
    ((SECONDS < deadline)) || fail "the run not up after $3s"
    sleep 0.5
  done
}

# assert_gone: nothing of the run in state file $1 remains: no live member of
# its process groups, no process naming its directory (PostgreSQL's
# backends), no listener on its ports, no directory.
assert_gone() {
  local DEMO_DIR DEMO_PGIDS DEMO_PORTS pgid port left
  # shellcheck source=/dev/null  # a run's state file
  . "$1"
  for pgid in $DEMO_PGIDS; do
    left=$(ps -eo pgid=,stat=,pid=,args= | awk -v g="$pgid" '$1 == g && $2 !~ /^Z/')
    [[ -z $left ]] || fail "process group $pgid still runs: $left"
  done
  left=$(ps -eo pid=,args= | grep -F -- "$DEMO_DIR" | grep -v grep || true)
  [[ -z $left ]] || fail "processes still use $DEMO_DIR: $left"
  for port in $DEMO_PORTS; do
    [[ -z $(ss -Hltn "sport = :$port") ]] || fail "port $port still listens: $(ss -Hltnp "sport = :$port")"
  done
  [[ ! -e $DEMO_DIR ]] || fail "$DEMO_DIR still exists"
  [[ -z $(ls -A "$TMPDIR") ]] || fail "left in TMPDIR: $(ls -A "$TMPDIR")"
}

# wait_run RC WHEN STATE: the run ends with exit status RC and leaves nothing
# behind (assert_gone STATE).
wait_run() {
  local rc=0
  wait "$run_pid" || rc=$?
  run_pid=''
  ((rc == $1)) || fail "the run exited with $rc $2, not $1"
  assert_gone "$3"
}

# pg_login USER PASSWORD DB SQL: one query over TCP with a SCRAM login.
pg_login() {
  PGPASSWORD=$2 PGCONNECT_TIMEOUT=10 psql -X -At -h 127.0.0.1 -p "$DEMO_PORT_POSTGRES" -U "$1" -d "$3" -c "$4"
}

# check_servers STATE: PostgreSQL with the seeded roles, Redis, s3rver and
# Prometheus of the run in STATE answer.
check_servers() {
  # shellcheck source=/dev/null  # a run's state file
  . "$1"
  [[ $(pg_login alice alice-secret mydb 'SELECT current_user') == alice ]] || fail "alice cannot log in to mydb"
  # shellcheck disable=SC2154  # DEMO_PORT is servers.sh's associative array
  DEMO_PORT[postgres]=$DEMO_PORT_POSTGRES
  [[ $(psql -X -At "$(demo_pg_url bob mydb)" -c 'SELECT current_user') == bob ]] || fail "demo_pg_url bob mydb"
  [[ $(pg_login demo_static demo-static-secret mydb 'SHOW wal_level') == logical ]] || fail "wal_level is not logical"
  if pg_login alice wrong-password mydb 'SELECT 1' >/dev/null 2>&1; then fail "a wrong password logs in"; fi
  # What the pooler's auth_query reads: bob's SCRAM verifier, through the
  # SECURITY DEFINER lookup, as the unprivileged auth role.
  [[ $(pg_login demo_auth demo-auth-secret mydb "SELECT phash FROM pooler.user_lookup('bob')") == SCRAM-SHA-256\$* ]] ||
    fail "auth_query lookup of bob returns no SCRAM verifier"
  [[ $(pg_login demo_proxy demo-proxy-secret shop 'SELECT count(*) FROM products') == 1000 ]] ||
    fail "demo_proxy cannot read shop.products"
  [[ $(pg_login demo_gateway demo-gateway-secret gateways 'SELECT current_schema()') == gateway ]] ||
    fail "demo_gateway's schema in gateways is not gateway"
  pass "PostgreSQL on $DEMO_PORT_POSTGRES: seeded roles log in with SCRAM"

  [[ $(redis-cli -h 127.0.0.1 -p "$DEMO_PORT_REDIS" ping) == PONG ]] || fail "redis-cli ping"
  pass "Redis on $DEMO_PORT_REDIS answers PONG"

  # Not `| grep -q`: grep quitting early would fail the pipe (pipefail).
  [[ $(curl -sf --max-time 10 "http://127.0.0.1:$DEMO_PORT_S3/") == *'<Name>obs-demo-attachments</Name>'* ]] ||
    fail "s3rver does not list the demo's bucket"
  pass "s3rver on $DEMO_PORT_S3 lists bucket obs-demo-attachments"

  DEMO_PROM_URL=http://127.0.0.1:$DEMO_PORT_PROMETHEUS
  [[ $(demo_prom_value 'up{job="prometheus"}') == 1 ]] || fail "Prometheus's own target is not up"
  targets=$(demo_prom_targets)
  grep -q "^prometheus 127.0.0.1:$DEMO_PORT_PROMETHEUS up" <<<"$targets" || fail "demo_prom_targets: $targets"
  if demo_prom_query 'rate(up[' >/dev/null 2>&1; then fail "a bad query succeeds"; fi
  pass "Prometheus on $DEMO_PORT_PROMETHEUS scrapes itself: up == 1"
  [[ $(demo_prom_value 'demo_infra_static{job="static_target"}') == 1 ]] || fail "the static target's sample is not in Prometheus"
  pass "Prometheus scrapes the static target on $DEMO_PORT_STATIC_TARGET like a service"
}

# `python3 -c "$with_sigint" CMD...` runs CMD with SIGINT handled by default.
# A background job of a script starts with SIGINT ignored, which bash then
# cannot trap; a terminal's Ctrl-C reaches a foreground demo that has it.
# (Not a shell function: `function &` would put a subshell between $! and
# the run.)
with_sigint='import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execvp(sys.argv[1], sys.argv[1:])'

# 1. Up, checked, stopped with Ctrl-C. The --duration is only a backstop: it
# stops the run even if this test is killed (a ctest timeout) before it could.
"$demo_python" -c "$with_sigint" bash "$run" --ephemeral --duration 300 --rules "$here/infra_rules.yml" --state "$work/run1.state" >"$work/run1.log" 2>&1 &
run_pid=$!
wait_for_state "$work/run1.state" "$run_pid" 180
check_servers "$work/run1.state"
# The rules are evaluated every 2s; the first evaluation may still be due.
for state in firing pending; do
  deadline=$((SECONDS + 60))
  until [[ $(demo_prom_alerts "$state") == *"DemoInfraAlways${state^} $state "* ]]; do
    ((SECONDS < deadline)) || fail "no $state alert: $(demo_prom_alerts)"
    sleep 0.5
  done
done
pass "alerts: DemoInfraAlwaysFiring firing, DemoInfraAlwaysPending pending"
kill -INT "$run_pid"
wait_run 130 "after SIGINT" "$work/run1.state"
pass "Ctrl-C: exit 130, no process, port or directory left"

# 2. Again right away; this time it ends by itself.
bash "$run" --ephemeral --duration 10 --state "$work/run2.state" >"$work/run2.log" 2>&1 &
run_pid=$!
wait_for_state "$work/run2.state" "$run_pid" 180
check_servers "$work/run2.state"
wait_run 0 "after --duration" "$work/run2.state"
pass "second run, --duration 10: exit 0, no process, port or directory left"

# 3. A busy port.
"$demo_python" -c '
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
print(s.getsockname()[1], flush=True)
time.sleep(600)' >"$work/listener.port" &
listener_pid=$!
deadline=$((SECONDS + 30))
until [[ -s $work/listener.port ]]; do
  ((SECONDS < deadline)) || fail "the test's listener did not start"
  sleep 0.1
done
port=$(<"$work/listener.port")
rc=0
OBS_DEMO_PORT_POSTGRES=$port timeout 60 bash "$run" --ephemeral >"$work/run3.log" 2>&1 || rc=$?
((rc != 124)) || fail "with port $port in use the run hangs"
((rc == 1)) || fail "with port $port in use the run exits with $rc, not 1"
holder="python3 (pid $listener_pid)"
[[ $(id -u) == 0 ]] || holder="another process"  # ss names other users' processes only to root
grep -qF "demo: port $port for postgres is in use by $holder; stop it, set OBS_DEMO_PORT_POSTGRES to another port, or run with --ephemeral" \
  "$work/run3.log" || fail "no clear message for port $port in use: $(cat "$work/run3.log")"
grep -q '^PostgreSQL' "$work/run3.log" && fail "the run printed its screen although a port was busy"
[[ -z $(ls -A "$TMPDIR") ]] || fail "left in TMPDIR: $(ls -A "$TMPDIR")"
kill "$listener_pid"
listener_pid=
pass "port $port in use: exit 1 at once, message names it and $holder"

# 4. Children of a tracked process, and a second demo_cleanup.
cat >"$work/cleanup_twice.sh" <<'EOF'
set -euo pipefail
. "$1/../lib/servers.sh"
demo_init
# The group leader and its child, which never hears of a SIGTERM to its parent.
demo_spawn parent sh -c 'sleep 300 & sleep 300'
printf 'DEMO_DIR=%q\nDEMO_PGIDS=%q\nDEMO_PORTS=\n' "$DEMO_DIR" "$DEMO_LAST_PGID" >"$2"
two_sleeps() { [[ $(ps -eo pgid=,comm= | awk -v g="$DEMO_LAST_PGID" '$1 == g && $2 == "sleep"' | wc -l) == 2 ]]; }
demo_wait_for "two sleeps" 30 "" two_sleeps
demo_cleanup
demo_cleanup
echo cleaned twice
EOF
bash "$work/cleanup_twice.sh" "$here" "$work/run4.state" >"$work/run4.log" 2>&1 || fail "demo_cleanup twice failed"
grep -q '^cleaned twice$' "$work/run4.log" || fail "the second demo_cleanup did not return"
assert_gone "$work/run4.state"
pass "demo_cleanup stops children too and is safe to call twice"
