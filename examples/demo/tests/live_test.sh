#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# ctest demo.live: `examples/demo/run --ephemeral --duration 60` with the
# binaries of a build tree (OBS_DEMO_BIN_DIR, so nothing is built twice),
# checked through Prometheus's HTTP API while it runs:
#
#   - every target (Prometheus, the pooler, the proxy and the messaging
#     gateway) is up; the Redis gateway is no target: it pushes
#     (remote_write), its pushes arrive, none fails or is dropped;
#   - the key metrics of each seed have non-zero rates: auth_query cache hits
#     and a dynamic pool created and collected (000), pool acquisitions
#     (001), cache hits, misses, uncacheable and write statements, change
#     feed events and invalidations (002), Redis commands, API-key requests
#     and 429s (003), WebSocket messages both ways and dropped messages (004);
#   - histogram_quantile over the pool acquire latency is a number;
#   - an alert is pending or firing: DatabaseConnectionPoolExhausted, the
#     static user's pool of 4 under 8 clients;
#
# then that the run ends by itself with exit status 0 and leaves no process,
# listening port or directory behind.
#
#   live_test.sh BUILD_TREE
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bin_dir=$(cd "$1" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/obs-demo-live-test.XXXXXX")
# PostgreSQL runs as the postgres user and must reach its directory in here.
chmod 755 "$work"
run_pid=''

finish() {
  local rc=$?
  # A run that is still going (a failed check) cleans up after itself on SIGTERM.
  if [[ -n $run_pid ]] && kill -0 "$run_pid" 2>/dev/null; then
    kill -TERM "$run_pid" 2>/dev/null || true
    wait "$run_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
  exit "$rc"
}
trap finish EXIT

fail() {
  printf 'FAIL: %s\n' "$*" >&2
  printf -- '--- the run\n' >&2
  tail -n 40 "$work/run.log" >&2 || true
  local f
  for f in "$work"/tmp/obs-demo.*/logs/*.log; do
    [[ -f $f ]] && { printf -- '--- %s\n' "$f" >&2; tail -n 15 "$f" >&2; }
  done
  exit 1
}
pass() { printf 'ok: %s (%ds)\n' "$*" "$SECONDS"; }

# The run's temporary directory goes here, so the test can tell none is left.
export TMPDIR=$work/tmp
mkdir -p "$TMPDIR"
# shellcheck source=../lib/prometheus.sh
. "$here/../lib/prometheus.sh"

OBS_DEMO_BIN_DIR=$bin_dir bash "$here/../run" --ephemeral --duration 60 --state "$work/state" >"$work/run.log" 2>&1 &
run_pid=$!
deadline=$((SECONDS + 180))
until [[ -f $work/state ]]; do
  kill -0 "$run_pid" 2>/dev/null || fail "the demo exited before it was up"
  ((SECONDS < deadline)) || fail "the demo not up after 180s"
  sleep 0.5
done
# shellcheck source=/dev/null  # the run's state file
. "$work/state"
DEMO_PROM_URL=http://127.0.0.1:$DEMO_PORT_PROMETHEUS
grep -q "^Pooler console   psql .*port=$DEMO_PORT_POOLER user=admin .*dbname=pgdoorman\" -c 'SHOW POOLS'$" "$work/run.log" ||
  fail "the screen lacks the admin console command"
pass "the demo is up, Prometheus on $DEMO_PORT_PROMETHEUS"

targets=$(demo_prom_targets) || fail "Prometheus lists no targets"
for job in prometheus pooler proxy gateway; do
  grep -q "^$job 127.0.0.1:[0-9]* up" <<<"$targets" || fail "target $job is not up: $targets"
done
# Scraped as well as pushed, every sum over its series would count twice.
! grep -q '^redis_gateway ' <<<"$targets" || fail "the Redis gateway is scraped as well as pushed: $targets"
pass "targets up: $(awk '{ print $1 }' <<<"$targets" | paste -sd' ')"

sent='sum(rate(obs_remote_write_samples_sent_total{job="redis_gateway"}[30s]))'
demo_prom_wait "$sent > 0" 60 || fail "no pushed samples counted sent: $(demo_prom_query "$sent")"
lost='sum(obs_remote_write_samples_failed_total{job="redis_gateway"}) + sum(obs_remote_write_samples_dropped_total{job="redis_gateway"})'
value=$(demo_prom_value "$lost") || fail "$lost is empty"
[[ $value == 0 ]] || fail "the Redis gateway's pushes failed or were dropped: $value samples"
# The pusher's own series exist from the first push on, before any traffic.
instance=$(demo_prom_query 'obs_remote_write_samples_sent_total') || fail "no obs_remote_write_samples_sent_total"
grep -q "instance=\"127.0.0.1:$DEMO_PORT_REDIS_GATEWAY\",job=\"redis_gateway\"" <<<"$instance" ||
  fail "the pushed series lack the gateway's job and instance: $instance"
pass "the Redis gateway pushes: $(demo_prom_value "$sent") samples/s sent, none failed or dropped"

# wait_positive EXPR: EXPR (a rate) is above zero within 60 s.
wait_positive() {
  demo_prom_wait "($1) > 0" 60 || fail "$1 stayed at zero or empty: $(demo_prom_query "$1")"
  printf '  %s = %s\n' "$1" "$(demo_prom_value "$1")"
}
for expr in \
  'sum(rate(pg_doorman_auth_query_cache_hits_total[30s]))' \
  'sum(pg_doorman_auth_query_dynamic_pools_created_total)' \
  'sum(pg_doorman_auth_query_dynamic_pools_destroyed_total)' \
  'sum(rate(db_pool_acquire_duration_seconds_count[30s]))' \
  'sum(rate(pgcache_queries_total{status="cache_hit"}[30s]))' \
  'sum(rate(pgcache_queries_total{status="cache_miss"}[30s]))' \
  'sum(rate(pgcache_queries_total{status="uncacheable"}[30s]))' \
  'sum(rate(pgcache_queries_total{status="unsupported"}[30s]))' \
  'sum(rate(pgcache_cdc_events_total{type="update"}[30s]))' \
  'sum(rate(pgcache_invalidations_total[30s]))' \
  'sum(rate(redis_commands_total[30s]))' \
  'sum(rate(api_key_requests_total[30s]))' \
  'sum(rate(http_requests_total{job="redis_gateway",status="429"}[30s]))' \
  'sum(rate(api_key_rate_limited_total[30s]))' \
  'sum(rate(ws_messages_received_total[30s]))' \
  'sum(rate(ws_messages_sent_total[30s]))' \
  'sum(rate(channel_dropped_messages_total[30s]))'; do
  wait_positive "$expr"
done
pass "every seed's key metrics move, 429s and dropped messages included"

p95='histogram_quantile(0.95, sum by (le) (rate(db_pool_acquire_duration_seconds_bucket{service="mydb/demo_static"}[30s])))'
value=$(demo_prom_value "$p95") || fail "$p95 is empty"
[[ $value =~ ^[0-9.]+(e[-+]?[0-9]+)?$ ]] || fail "$p95 is not a number: $value"
pass "pool acquire p95 of mydb/demo_static: ${value}s"

deadline=$((SECONDS + 60))
until alerts=$(demo_prom_alerts "") &&
  grep -Eq '^DatabaseConnectionPoolExhausted (pending|firing) .*service="mydb/demo_static"' <<<"$alerts"; do
  ((SECONDS < deadline)) || fail "DatabaseConnectionPoolExhausted is neither pending nor firing: $alerts"
  sleep 1
done
pass "alerts: $(awk '{ print $1 "=" $2 }' <<<"$alerts" | sort -u | paste -sd' ')"

rc=0
wait "$run_pid" || rc=$?
run_pid=''
((rc == 0)) || fail "the demo exited with $rc after --duration, not 0"
demo_check_gone "$DEMO_PGIDS" "$DEMO_PORTS" || fail "the demo left processes or ports behind"
left=$(ps -eo pid=,args= | grep -F -- "$DEMO_DIR" | grep -v grep || true)
[[ -z $left ]] || fail "processes still use $DEMO_DIR: $left"
[[ ! -e $DEMO_DIR ]] || fail "$DEMO_DIR still exists"
[[ -z $(ls -A "$TMPDIR") ]] || fail "left in TMPDIR: $(ls -A "$TMPDIR")"
pass "the demo ended after --duration: exit 0, no process, port or directory left"
