# shellcheck shell=bash source-path=SCRIPTDIR
# The demo's throwaway servers: a temporary directory, ports, PostgreSQL 15,
# Redis and s3rver on 127.0.0.1. Sourced (bash 4+):
#
#   . examples/demo/lib/servers.sh   # also sources cleanup.sh
#   demo_init                        # temp dir + EXIT/INT/TERM traps
#   demo_ports_reserve postgres redis s3 prometheus
#   demo_start_postgres; demo_start_redis; demo_start_s3
#
# Every process is started in a session of its own and recorded (cleanup.sh),
# so Ctrl-C reaches only the script, whose trap then stops everything in order.
# Functions print what went wrong to stderr and return non-zero; they never
# exit, so a caller may try again or report.
#
# Environment:
#   OBS_DEMO_EPHEMERAL=1        pick free ports instead of the defaults below
#                               (demo_parse_args sets it for --ephemeral)
#   OBS_DEMO_PORT_<NAME>=N      use port N for NAME (upper case, e.g.
#                               OBS_DEMO_PORT_POSTGRES), even when ephemeral
#   OBS_PG_BIN                  PostgreSQL server binaries
#                               (default /usr/lib/postgresql/15/bin)
#   OBS_S3RVER, OBS_TOOLS_DIR   where s3rver is (tests/install-deps puts it in
#                               ~/.cache/obs-tools/node_modules/.bin)

[[ -z ${demo_servers_loaded:-} ]] || return 0
demo_servers_loaded=1
# shellcheck source=cleanup.sh
. "$(dirname "${BASH_SOURCE[0]}")/cleanup.sh"

# Debian's python3; a pyenv shim on PATH would add a second of start-up to
# every helper call.
demo_python=$(command -v /usr/bin/python3 || command -v python3)

# The fixed ports a newcomer sees in the printed URLs. They sit away from
# the usual 5432/6379/9090 so a developer's own servers do not collide.
declare -gA demo_default_ports=(
  [postgres]=15432 [redis]=16379 [s3]=14568 [prometheus]=19090
)
# name -> port chosen by demo_ports_reserve for this run.
declare -gA DEMO_PORT=()

# The superuser password of the demo's cluster, and the roles seed.sql
# creates with theirs (keep the two in step).
DEMO_PG_PASSWORD=demo-postgres-secret
declare -gA demo_pg_passwords=(
  [postgres]=$DEMO_PG_PASSWORD
  [demo_static]=demo-static-secret [alice]=alice-secret [bob]=bob-secret [demo_auth]=demo-auth-secret
  [demo_proxy]=demo-proxy-secret
  [demo_redis_gateway]=demo-redis-gateway-secret [demo_gateway]=demo-gateway-secret
)
# The bucket s3rver creates at start for the gateway's attachments.
DEMO_S3_BUCKET=obs-demo-attachments

# demo_make_dir: creates the run's temporary directory, DEMO_DIR, with
# logs/ for every process's output. 755 because PostgreSQL runs as the
# postgres user and must reach its data directory inside it.
demo_make_dir() {
  DEMO_DIR=$(mktemp -d "${TMPDIR:-/tmp}/obs-demo.XXXXXX") || return 1
  chmod 755 "$DEMO_DIR" && mkdir -p "$DEMO_DIR/logs" || return 1
  # Otherwise initdb fails later with a bare "Permission denied".
  if [[ $(id -u) == 0 ]] && ! runuser -u postgres -- test -x "$DEMO_DIR"; then
    demo_say "the postgres user cannot enter $DEMO_DIR; point TMPDIR at a directory every user may enter (e.g. /tmp)"
    return 1
  fi
}

# demo_init: the first call of a demo script: DEMO_DIR plus the traps that
# undo everything on exit, Ctrl-C or SIGTERM (cleanup.sh).
demo_init() {
  demo_install_traps
  demo_make_dir
}

# demo_port_holder PORT: prints who listens on TCP PORT, e.g.
# `redis-server (pid 1234)`, or nothing when ss cannot tell (not root).
demo_port_holder() {
  ss -Hltnp "sport = :$1" 2>/dev/null |
    sed -nE 's/.*users:\(\("([^"]+)",pid=([0-9]+).*/\1 (pid \2)/p' | sort -u | paste -sd, - |
    sed 's/,/, /g'
}

# demo_port_free PORT: succeeds when 127.0.0.1:PORT can be bound right now.
# Binding is the real test: ss would miss a socket bound but not listening.
# SO_REUSEADDR, as every server of the demo sets it: connections of the
# previous run still in TIME_WAIT on the port must not make it look busy.
demo_port_free() {
  "$demo_python" - "$1" <<'EOF'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
EOF
}

# demo_free_port: prints a port the kernel just handed out as free.
demo_free_port() {
  "$demo_python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# demo_ports_reserve NAME...: fills DEMO_PORT[NAME] for each NAME, checking all
# of them before anything starts, so a busy port fails the run at once:
#   demo: port 15432 for postgres is in use by redis-server (pid 1234); stop
#   it, set OBS_DEMO_PORT_POSTGRES to another port, or run with --ephemeral
# Names already reserved are skipped, so reserve every port first and let
# demo_start_servers find its own. A NAME without a default in
# demo_default_ports (a service added later) must come with one:
# demo_default_ports[pooler]=16432 before the call.
demo_ports_reserve() {
  local name var port holder try
  for name in "$@"; do
    [[ -n ${DEMO_PORT[$name]:-} ]] && continue
    var=OBS_DEMO_PORT_${name^^}
    if [[ -n ${!var:-} ]]; then
      port=${!var}
    elif [[ ${OBS_DEMO_EPHEMERAL:-0} == 1 ]]; then
      # Two calls may hand out the same port once the first socket closes.
      for ((try = 0; try < 8; try++)); do
        port=$(demo_free_port) || return 1
        [[ " ${DEMO_PORT[*]} " == *" $port "* ]] || break
      done
    else
      port=${demo_default_ports[$name]:-}
      [[ -n $port ]] || { demo_say "no default port for $name (set demo_default_ports[$name])"; return 1; }
    fi
    if [[ " ${DEMO_PORT[*]} " == *" $port "* ]]; then
      demo_say "port $port for $name is already taken by another part of the demo"
      return 1
    fi
    if ! demo_port_free "$port"; then
      holder=$(demo_port_holder "$port")
      demo_say "port $port for $name is in use by ${holder:-another process (run as root to see which)};" \
        "stop it, set $var to another port, or run with --ephemeral"
      return 1
    fi
    DEMO_PORT[$name]=$port
  done
}

# demo_wait_for DESCRIPTION SECONDS PGID COMMAND...: runs COMMAND every 0.2 s
# until it succeeds (returns 0), the process group PGID has died, or SECONDS
# have passed (returns 1, naming DESCRIPTION). PGID may be empty. Pass the
# process's log with DEMO_WAIT_LOG to have its tail printed on failure.
demo_wait_for() {
  local what=$1 seconds=$2 pgid=$3 deadline
  shift 3
  deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if [[ -n $pgid ]] && ! kill -0 -- "-$pgid" 2>/dev/null; then
      demo_say "$what exited before it was ready"
      demo_log_tail
      return 1
    fi
    if ((SECONDS >= deadline)); then
      demo_say "$what not ready after ${seconds}s"
      demo_log_tail
      return 1
    fi
    sleep 0.2
  done
}

# demo_pg_admin SQL-OR-PSQL-ARGS...: psql as the superuser over the cluster's
# local socket (trusted), for seeding and checks.
demo_pg_admin() {
  "${OBS_PG_BIN:-/usr/lib/postgresql/15/bin}/psql" -h "$DEMO_DIR/pg/run" -p "${DEMO_PORT[postgres]}" \
    -U postgres -X -q -v ON_ERROR_STOP=1 "$@"
}

# demo_start_postgres: a fresh cluster in DEMO_DIR/pg on DEMO_PORT[postgres]
# (tests/support/pg-cluster: SCRAM over TCP, wal_level=logical), seeded with
# seed.sql. Exports DEMO_PG_HOST/PORT/USER/PASSWORD and DEMO_PG_URL (libpq
# conninfo of the superuser, database postgres).
demo_start_postgres() {
  local port=${DEMO_PORT[postgres]} dir=$DEMO_DIR/pg pid
  # Set before starting: an interrupted start still gets a pg_ctl stop.
  DEMO_PG_DIR=$dir
  # pg-cluster waits (pg_ctl -w) until the server accepts connections.
  bash "$demo_repo_dir/tests/support/pg-cluster" start "$dir" "$port" "$DEMO_PG_PASSWORD" \
    >"$DEMO_DIR/logs/pg-cluster.log" 2>&1 || {
    demo_say "PostgreSQL did not start on port $port:"
    cat "$DEMO_DIR/logs/pg-cluster.log" >&2
    return 1
  }
  # pg_ctl starts the postmaster in a session of its own; its first line of
  # postmaster.pid is the PID, which is also its process group.
  pid=$(head -n 1 "$dir/data/postmaster.pid") || return 1
  demo_track postgres "$pid"
  # Where demo_wait looks for the log of a process that died.
  ln -sf "$dir/run/log" "$DEMO_DIR/logs/postgres.log"
  demo_pg_admin -f "$demo_lib_dir/seed.sql" >"$DEMO_DIR/logs/seed.log" 2>&1 || {
    demo_say "seeding PostgreSQL failed:"
    cat "$DEMO_DIR/logs/seed.log" >&2
    return 1
  }
  export DEMO_PG_HOST=127.0.0.1 DEMO_PG_PORT=$port DEMO_PG_USER=postgres DEMO_PG_PASSWORD
  export DEMO_PG_URL="host=127.0.0.1 port=$port user=postgres password=$DEMO_PG_PASSWORD dbname=postgres"
}

# demo_pg_url USER DB: the libpq conninfo for a seeded USER (see
# demo_pg_passwords) on database DB over TCP, e.g. for a service's
# --database-url or psql "$(demo_pg_url alice mydb)".
demo_pg_url() {
  local password=${demo_pg_passwords[$1]:-}
  [[ -n $password ]] || { demo_say "no demo role $1 (seed.sql)"; return 1; }
  echo "host=127.0.0.1 port=${DEMO_PORT[postgres]} user=$1 password=$password dbname=$2"
}

redis_ping() { [[ $(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null) == PONG ]]; }

# demo_start_redis: redis-server on DEMO_PORT[redis], no persistence (the
# data is scratch), waits for PONG. Exports DEMO_REDIS_HOST/PORT.
demo_start_redis() {
  local port=${DEMO_PORT[redis]}
  mkdir -p "$DEMO_DIR/redis" || return 1
  demo_spawn redis redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
    --daemonize no --dir "$DEMO_DIR/redis" || return 1
  DEMO_WAIT_LOG=$DEMO_DIR/logs/redis.log demo_wait_for "Redis on port $port" 30 "$DEMO_LAST_PGID" \
    redis_ping "$port" || return 1
  export DEMO_REDIS_HOST=127.0.0.1 DEMO_REDIS_PORT=$port
}

# demo_start_s3: s3rver on DEMO_PORT[s3] with bucket DEMO_S3_BUCKET, waits
# until it answers HTTP. Exports DEMO_S3_ENDPOINT, DEMO_S3_ACCESS_KEY,
# DEMO_S3_SECRET_KEY, DEMO_S3_REGION (s3rver's fixed credentials).
demo_start_s3() {
  local port=${DEMO_PORT[s3]}
  local s3rver=${OBS_S3RVER:-${OBS_TOOLS_DIR:-$HOME/.cache/obs-tools}/node_modules/.bin/s3rver}
  [[ -x $s3rver ]] || { demo_say "s3rver not found at $s3rver (bash tests/install-deps installs it)"; return 1; }
  mkdir -p "$DEMO_DIR/s3" || return 1
  demo_spawn s3 "$s3rver" --address 127.0.0.1 --port "$port" --directory "$DEMO_DIR/s3" \
    --configure-bucket "$DEMO_S3_BUCKET" || return 1
  DEMO_WAIT_LOG=$DEMO_DIR/logs/s3.log demo_wait_for "s3rver on port $port" 60 "$DEMO_LAST_PGID" \
    curl -sf -o /dev/null "http://127.0.0.1:$port/" || return 1
  export DEMO_S3_ENDPOINT=http://127.0.0.1:$port DEMO_S3_BUCKET
  export DEMO_S3_ACCESS_KEY=S3RVER DEMO_S3_SECRET_KEY=S3RVER DEMO_S3_REGION=us-east-1
}

# demo_start_service NAME URL SECONDS CMD...: starts CMD (demo_spawn NAME)
# and waits up to SECONDS until URL answers with a 2xx, e.g. a service's
# /metrics; on failure prints the tail of its log. For a service that
# only speaks its own protocol, demo_spawn and demo_wait_for with any
# readiness command do the same.
demo_start_service() {
  local name=$1 url=$2 seconds=$3
  shift 3
  demo_spawn "$name" "$@" || return 1
  DEMO_WAIT_LOG=$DEMO_DIR/logs/$name.log demo_wait_for "$name at $url" "$seconds" "$DEMO_LAST_PGID" \
    curl -sf --max-time 5 -o /dev/null "$url"
}

# demo_start_servers: PostgreSQL, Redis and s3rver, on the ports reserved
# for them (reserving those not yet reserved).
demo_start_servers() {
  demo_ports_reserve postgres redis s3 || return 1
  demo_start_postgres && demo_start_redis && demo_start_s3
}
