# shellcheck shell=bash source-path=SCRIPTDIR
# The demo's traffic through the four services (scripts in ../traffic/).
# Sourced (bash 4+; sources services.sh and what it sources):
#
#   demo_start_traffic      # after demo_start_services
#
# Every driver is a tracked process (demo_spawn), stopped with the rest; one
# that dies ends the demo with its log's tail (demo_wait).

[[ -z ${demo_traffic_loaded:-} ]] || return 0
demo_traffic_loaded=1
# shellcheck source=services.sh
. "$(dirname "${BASH_SOURCE[0]}")/services.sh"

demo_traffic_dir=$(cd "$demo_lib_dir/../traffic" && pwd)
demo_pg_bin=${OBS_PG_BIN:-/usr/lib/postgresql/15/bin}

# demo_pgbench NAME USER PORT DB PGBENCH-ARGS...: pgbench as USER (password
# from demo_pg_passwords) on 127.0.0.1:PORT, for ever (-T of a year).
demo_pgbench() {
  local name=$1 user=$2 port=$3 db=$4
  shift 4
  demo_spawn "$name" env PGPASSWORD="${demo_pg_passwords[$user]}" "$demo_pg_bin/pgbench" \
    -h 127.0.0.1 -p "$port" -U "$user" -n -T 31536000 "$@" "$db"
}

# demo_start_pooler_traffic: pgbench's tables in mydb, then through the
# pooler: the static user with twice as many clients as its pool has
# connections (the pool is exhausted, clients wait); alice's TPC-B-like
# transactions; bob coming and going and alice logging in again and again
# (traffic/auth_query_users.sh).
demo_start_pooler_traffic() {
  local port=${DEMO_PORT[pooler]}
  PGPASSWORD=${demo_pg_passwords[demo_static]} "$demo_pg_bin/pgbench" -h 127.0.0.1 -p "${DEMO_PORT[postgres]}" \
    -U demo_static -i -q -s 1 mydb >"$DEMO_DIR/logs/pgbench-init.log" 2>&1 || {
    demo_say "pgbench -i failed:"
    cat "$DEMO_DIR/logs/pgbench-init.log" >&2
    return 1
  }
  demo_pg_admin -d mydb -c 'GRANT ALL ON ALL TABLES IN SCHEMA public TO alice, bob' || return 1
  demo_pgbench pgbench-static demo_static "$port" mydb -c 8 -j 2 -f "$demo_traffic_dir/pooler_hold.sql" &&
    demo_pgbench pgbench-alice alice "$port" mydb -c 2 -j 1 -R 10 -b tpcb-like &&
    demo_spawn auth-query-users bash "$demo_traffic_dir/auth_query_users.sh" "$port"
}

# demo_start_proxy_traffic: through the proxy, 60 transactions a second:
# cacheable reads (30 in 37), reads it must not cache (6 in 37) and orders
# (1 in 37); past it, a price update straight to PostgreSQL every 2 s, which
# reaches the proxy through its replication slot. Each write drops the
# cached reads of its table, so the hit ratio dips after every one.
demo_start_proxy_traffic() {
  demo_pgbench pgbench-proxy demo_proxy "${DEMO_PORT[proxy]}" shop -c 4 -j 2 -R 60 \
    -f "$demo_traffic_dir/proxy_cacheable.sql@30" -f "$demo_traffic_dir/proxy_uncacheable.sql@6" \
    -f "$demo_traffic_dir/proxy_write.sql@1" &&
    demo_pgbench pgbench-direct demo_proxy "${DEMO_PORT[postgres]}" shop -c 1 -R 0.5 \
      -f "$demo_traffic_dir/direct_write.sql"
}

# demo_start_redis_gateway_traffic: an organization, its instance and three
# API keys, one of them over its quota (traffic/redis_clients.py); waits
# until the keys are in DEMO_DIR/redis_gateway_keys.
demo_start_redis_gateway_traffic() {
  DEMO_REDIS_GATEWAY_KEYS=$DEMO_DIR/redis_gateway_keys
  demo_spawn redis-clients "$demo_python" "$demo_traffic_dir/redis_clients.py" --port "${DEMO_PORT[redis_gateway]}" \
    --admin-token "$DEMO_REDIS_GATEWAY_ADMIN_TOKEN" --redis-port "${DEMO_PORT[redis]}" \
    --keys-file "$DEMO_REDIS_GATEWAY_KEYS" || return 1
  DEMO_WAIT_LOG=$DEMO_DIR/logs/redis-clients.log demo_wait_for "the Redis gateway's API keys" 30 "$DEMO_LAST_PGID" \
    test -s "$DEMO_REDIS_GATEWAY_KEYS"
}

# demo_start_gateway_traffic: WebSocket clients in two rooms, one of them
# a slow reader (traffic/chat_rooms.py).
demo_start_gateway_traffic() {
  demo_spawn chat-rooms "$demo_python" "$demo_traffic_dir/chat_rooms.py" --port "${DEMO_PORT[gateway]}"
}

demo_start_traffic() {
  demo_start_pooler_traffic && demo_start_proxy_traffic && demo_start_redis_gateway_traffic &&
    demo_start_gateway_traffic
}
