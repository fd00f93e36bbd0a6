#!/usr/bin/env bash
# The pooler's auth_query users come and go, for ever:
#
#   auth_query_users.sh POOLER_PORT
#
# bob runs pgbench for 10 s (his login creates a dynamic pool, or finds it
# in the auth_query cache), then stays away for 10 s, long enough for the
# pooler (idle_timeout 5 s in the demo's config) to collect his pool; while
# he is away alice logs in anew every second (auth_query cache hits). The
# passwords are seed.sql's.
set -euo pipefail
port=$1
psql_bin=${OBS_PG_BIN:-/usr/lib/postgresql/15/bin}/psql
pgbench_bin=${OBS_PG_BIN:-/usr/lib/postgresql/15/bin}/pgbench

while :; do
  PGPASSWORD=bob-secret "$pgbench_bin" -h 127.0.0.1 -p "$port" -U bob -n -c 2 -j 1 -R 10 -T 10 -b select-only \
    mydb >/dev/null
  for _ in $(seq 10); do
    PGPASSWORD=alice-secret "$psql_bin" -h 127.0.0.1 -p "$port" -U alice -X -qAt -c 'SELECT 1' mydb >/dev/null
    sleep 1
  done
done
