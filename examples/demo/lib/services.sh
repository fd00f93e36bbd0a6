# shellcheck shell=bash source-path=SCRIPTDIR
# The four example services of the demo: their build, their demo
# configurations (written into DEMO_DIR) and their start. Sourced (bash 4+;
# sources prometheus.sh, servers.sh and cleanup.sh):
#
#   demo_build_services            # Release build in build/demo, or OBS_DEMO_BIN_DIR
#   demo_ports_reserve "${demo_service_ports[@]}"
#   demo_start_pooler; demo_start_proxy; demo_start_redis_gateway; demo_start_gateway
#
# Each start waits until the service's /metrics answers; its output goes to
# DEMO_DIR/logs/NAME.log. The settings differ from
# the services' defaults only where the demo needs something to happen within
# a minute: a small static pool that pgbench exhausts, dynamic pools collected
# after seconds of idleness, small WebSocket queues that a slow reader
# overflows.
#
# Environment:
#   OBS_DEMO_BIN_DIR   a CMake build tree that already holds the four
#                      binaries (e.g. build/default): nothing is built
#   OBS_JOBS           parallel compile jobs (default 2)

[[ -z ${demo_services_loaded:-} ]] || return 0
demo_services_loaded=1
# shellcheck source=prometheus.sh
. "$(dirname "${BASH_SOURCE[0]}")/prometheus.sh"

# The ports of the services, each a client (or API) port and a metrics port.
# shellcheck disable=SC2034  # read by the demo script
demo_service_ports=(pooler pooler_metrics proxy proxy_metrics redis_gateway redis_gateway_metrics
                    gateway gateway_metrics)
demo_default_ports+=(
  [pooler]=16432 [pooler_metrics]=19127 [proxy]=16532 [proxy_metrics]=19128
  [redis_gateway]=13000 [redis_gateway_metrics]=19129 [gateway]=13001 [gateway_metrics]=19130
)

# Credentials of the demo's services; public on purpose, like seed.sql's.
DEMO_POOLER_ADMIN_PASSWORD=demo-admin-secret
DEMO_REDIS_GATEWAY_ADMIN_TOKEN=demo-admin-token
# The proxy's replication slot, in database shop: temporary, it goes with the proxy.
DEMO_PROXY_SLOT=demo_cache

# CMake target and path in a build tree of each service's binary.
declare -gA demo_service_targets=(
  [pooler]=pooler [proxy]=obs_proxy [redis_gateway]=redis_gateway [gateway]=obs_gateway
)
declare -gA demo_service_paths=(
  [pooler]=examples/pooler/pooler [proxy]=examples/proxy/obs_proxy
  [redis_gateway]=examples/redis_gateway/redis_gateway [gateway]=examples/gateway/obs_gateway
)

# demo_build_services: sets DEMO_BIN_DIR to a build tree holding the four
# binaries. With OBS_DEMO_BIN_DIR that tree is used as it is (a missing
# binary is an error); otherwise build/demo is configured with the release
# preset (ccache when installed) and only the four targets are built, which
# after the first run is a no-op.
demo_build_services() {
  local name missing=()
  if [[ -n ${OBS_DEMO_BIN_DIR:-} ]]; then
    DEMO_BIN_DIR=$(cd "$OBS_DEMO_BIN_DIR" && pwd) || return 1
  else
    DEMO_BIN_DIR=$demo_repo_dir/build/demo
    local launcher=()
    command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
    demo_say "building the four services (Release) in $DEMO_BIN_DIR; only the first build takes long"
    (cd "$demo_repo_dir" && cmake --preset release -B "$DEMO_BIN_DIR" -DOBS_BUILD_TESTS=OFF "${launcher[@]}" >/dev/null) ||
      return 1
    cmake --build "$DEMO_BIN_DIR" -j "${OBS_JOBS:-2}" --target "${demo_service_targets[@]}" || return 1
  fi
  for name in "${!demo_service_paths[@]}"; do
    [[ -x $DEMO_BIN_DIR/${demo_service_paths[$name]} ]] || missing+=("${demo_service_targets[$name]}")
  done
  if ((${#missing[@]})); then
    demo_say "$DEMO_BIN_DIR lacks ${missing[*]}; build them with cmake --build $DEMO_BIN_DIR --target ${missing[*]}"
    return 1
  fi
}

demo_bin() { echo "$DEMO_BIN_DIR/${demo_service_paths[$1]}"; }

# demo_metrics_url NAME: the /metrics URL of service NAME.
demo_metrics_url() { echo "http://127.0.0.1:${DEMO_PORT[${1}_metrics]}/metrics"; }

# demo_start_pooler: the pooler in front of database mydb, config in
# DEMO_DIR/pooler.toml. demo_static is a static user with a pool of 4
# server connections (the traffic puts 8 clients on it); alice and bob log in
# through auth_query and get dynamic pools, destroyed after 5 s idle.
demo_start_pooler() {
  local config=$DEMO_DIR/pooler.toml
  cat >"$config" <<EOF
# The demo's pooler (examples/pooler/README.md lists every key).
[general]
listen = "127.0.0.1:${DEMO_PORT[pooler]}"
metrics_listen = "127.0.0.1:${DEMO_PORT[pooler_metrics]}"
admin_password = "$DEMO_POOLER_ADMIN_PASSWORD"
# Look for idle dynamic pools every second, so one is seen collected.
gc_interval = 1

[databases.mydb]
host = "127.0.0.1"
port = ${DEMO_PORT[postgres]}
pool_size = 10

# Small on purpose: the demo runs more clients than this and the pool
# saturates (DatabaseConnectionPoolExhausted).
[databases.mydb.users.demo_static]
password = "${demo_pg_passwords[demo_static]}"
pool_size = 4

[databases.mydb.auth_query]
user = "demo_auth"
password = "${demo_pg_passwords[demo_auth]}"
query = "SELECT uname, phash FROM pooler.user_lookup(\$1)"
pool_size = 4
idle_timeout = 5
EOF
  demo_start_service pooler "$(demo_metrics_url pooler)" 60 "$(demo_bin pooler)" --config "$config"
}

# demo_start_proxy: the caching proxy in front of database shop, as
# demo_proxy, with its change feed on slot DEMO_PROXY_SLOT.
demo_start_proxy() {
  demo_start_service proxy "$(demo_metrics_url proxy)" 60 "$(demo_bin proxy)" \
    --origin "$(demo_pg_url demo_proxy shop)" --listen "127.0.0.1:${DEMO_PORT[proxy]}" \
    --metrics-listen "127.0.0.1:${DEMO_PORT[proxy_metrics]}" --slot "$DEMO_PROXY_SLOT"
}

# demo_start_redis_gateway: the Redis gateway, tenants in schema
# redis_gateway of database gateways, /metrics on a port of its own. It pushes
# its metrics to the demo's Prometheus (remote_write) every
# DEMO_PROM_INTERVAL instead of being scraped; until Prometheus is up its
# pushes are retried. Its organizations, keys and instance are made by the
# traffic (traffic/redis_clients.py).
demo_start_redis_gateway() {
  demo_start_service redis_gateway "$(demo_metrics_url redis_gateway)" 60 "$(demo_bin redis_gateway)" \
    --listen "127.0.0.1:${DEMO_PORT[redis_gateway]}" --metrics-listen "127.0.0.1:${DEMO_PORT[redis_gateway_metrics]}" \
    --database-url "$(demo_pg_url demo_redis_gateway gateways)" --db-schema redis_gateway \
    --admin-token "$DEMO_REDIS_GATEWAY_ADMIN_TOKEN" --health-check-interval 2s \
    --remote-write-url "$(demo_prom_write_url)" --remote-write-interval "$DEMO_PROM_INTERVAL"
}

# demo_start_gateway: the messaging gateway, messages in schema gateway of
# database gateways, attachments in DEMO_S3_BUCKET. Queues of 16 messages
# and 4 KiB socket buffers per connection, so the slow reader of the traffic
# overflows its queue within seconds (channel_dropped_messages_total).
demo_start_gateway() {
  demo_start_service gateway "$(demo_metrics_url gateway)" 60 "$(demo_bin gateway)" \
    --listen "127.0.0.1:${DEMO_PORT[gateway]}" --management-listen "127.0.0.1:${DEMO_PORT[gateway_metrics]}" \
    --database-url "$(demo_pg_url demo_gateway gateways)" --s3-endpoint "$DEMO_S3_ENDPOINT" \
    --s3-bucket "$DEMO_S3_BUCKET" --s3-region "$DEMO_S3_REGION" \
    --s3-access-key "$DEMO_S3_ACCESS_KEY" --s3-secret-key "$DEMO_S3_SECRET_KEY" \
    --outbound-queue 16 --ws-send-buffer-bytes 4096
}

# demo_start_services: the four; Prometheus scrapes three (add the targets
# before demo_start_prometheus) and the Redis gateway pushes.
demo_start_services() {
  demo_start_pooler && demo_start_proxy && demo_start_redis_gateway && demo_start_gateway || return 1
  local name
  for name in pooler proxy gateway; do
    demo_prom_add_target "$name" "127.0.0.1:${DEMO_PORT[${name}_metrics]}"
  done
}
