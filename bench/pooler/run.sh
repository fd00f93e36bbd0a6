#!/usr/bin/env bash
# Throughput of examples/pooler against Debian's pgbouncer and direct
# PostgreSQL, plus the pooler built with OBS_DISABLE=1 (the instrumentation's
# cost): pgbench -S (select-only) and the default TPC-B-like script, 8 and 32
# clients, every configuration interleaved in each round (every other round
# in reverse order). Prints markdown tables of median tps over the rounds,
# and of the CPU time each pooler process spent per transaction (utime+stime
# from /proc, which a loaded machine disturbs far less than throughput), with
# ratios. Then it counts the instructions each pooler executes per
# transaction under valgrind's callgrind (bench/lib/instructions.sh): a figure
# other load cannot move, which is what resolves the instrumentation's cost
# against OBS_DISABLE=1. It counts one client, and 8 clients through a pool of
# 2, where transactions queue for a connection as they do at 32 clients on the
# timed pool of 20. Between the two, the system calls pgbouncer and the pooler
# make per transaction (perf).
#
#   OBS_TEST_PG_HOST/PORT/PASSWORD set, as tests/run sets them
#   bash bench/pooler/run.sh [ROUNDS] [SECONDS] [XACTS]
#
# ROUNDS defaults to 5. The machine must be idle (bench/lib/idle_machine.sh).
#
# XACTS (default 2000) is the transaction count of the callgrind runs.
#
# Builds two Release trees (build/bench-pooler, build/bench-pooler-disabled)
# unless POOLER and POOLER_DISABLED name binaries already built.
set -euo pipefail

rounds=${1:-5}
seconds=${2:-8}
counted_xacts=${3:-2000}
pool_size=20
queued_pool_size=2  # the counted queued load: 8 clients, so each transaction queues
repo=$(cd "$(dirname "$0")/../.." && pwd)
. "$repo/bench/lib/instructions.sh"
. "$repo/bench/lib/idle_machine.sh"
: "${OBS_TEST_PG_HOST:?set OBS_TEST_PG_HOST (tests/run shows how)}"
: "${OBS_TEST_PG_PORT:?set OBS_TEST_PG_PORT}"
: "${OBS_TEST_PG_PASSWORD:?set OBS_TEST_PG_PASSWORD}"
bench_require_idle

ccache=$(command -v ccache || true)  # used when installed, as tests/install-deps does
build() {  # dir, OBS_DISABLE for the pooler's files
  # -g leaves the code as it is and gives callgrind the source lines that
  # attribute obs's inlined instructions to obs (bench/lib/obs_instructions.py).
  cmake -S "$repo" -B "$1" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS=-g -DOBS_BUILD_TESTS=OFF \
    ${ccache:+-DCMAKE_CXX_COMPILER_LAUNCHER=$ccache} "-DPOOLER_OBS_DISABLE=$2" >/dev/null
  cmake --build "$1" --target pooler -j2 >/dev/null
  echo "$1/examples/pooler/pooler"
}
POOLER=${POOLER:-$(build "$repo/build/bench-pooler" OFF)}
POOLER_DISABLED=${POOLER_DISABLED:-$(build "$repo/build/bench-pooler-disabled" ON)}

work=$(mktemp -d /tmp/pooler_bench_XXXXXX)
chmod 755 "$work"
db=pooler_bench_$RANDOM
user=pooler_bench_user_$RANDOM
password=bench-pw
pids=()
cleanup() {
  for pid in "${pids[@]}" "${instructions_pid[@]}"; do kill "$pid" 2>/dev/null || true; done
  PGPASSWORD=$OBS_TEST_PG_PASSWORD psql -qX -h "$OBS_TEST_PG_HOST" -p "$OBS_TEST_PG_PORT" -U postgres -d postgres \
    -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "DROP ROLE IF EXISTS $user" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

export PGPASSWORD=$OBS_TEST_PG_PASSWORD
psql -qX -h "$OBS_TEST_PG_HOST" -p "$OBS_TEST_PG_PORT" -U postgres -d postgres \
  -c "CREATE ROLE $user LOGIN PASSWORD '$password'" -c "CREATE DATABASE $db OWNER $user"
PGPASSWORD=$password pgbench -q -i -s 10 -h "$OBS_TEST_PG_HOST" -p "$OBS_TEST_PG_PORT" -U "$user" "$db" >/dev/null 2>&1

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Our pooler: a static user, transaction pooling, the same pool size.
start_pooler() {  # binary, port, metrics port [name to count instructions under]
  cat >"$work/pooler-$2.toml" <<CFG
[databases.$db]
host = "$OBS_TEST_PG_HOST"
port = $OBS_TEST_PG_PORT
pool_size = $pool_size
pool_mode = "transaction"
[databases.$db.users.$user]
password = "$password"
# The same database through a pool of $queued_pool_size: the counted queued load.
[databases.q$db]
host = "$OBS_TEST_PG_HOST"
port = $OBS_TEST_PG_PORT
dbname = "$db"
pool_size = $queued_pool_size
pool_mode = "transaction"
[databases.q$db.users.$user]
password = "$password"
CFG
  local args=("$1" --config "$work/pooler-$2.toml" --listen "127.0.0.1:$2" --metrics-listen "127.0.0.1:$3")
  if (($# > 3)); then
    instructions_start "$4" "$work/callgrind" "${args[@]}"
  else
    "${args[@]}" >"$work/pooler-$2.log" 2>&1 &
    pids+=($!)
  fi
}
pooler_port=$(free_port); start_pooler "$POOLER" "$pooler_port" "$(free_port)"
disabled_port=$(free_port); start_pooler "$POOLER_DISABLED" "$disabled_port" "$(free_port)"

# pgbouncer 1.18: same user and password, SCRAM in front, same pool.
printf '"%s" "%s"\n' "$user" "$password" >"$work/userlist.txt"
start_bouncer() {  # port [launcher...]: the pid lands in $work/pgbouncer-PORT.pid
  local port=$1
  shift
  cat >"$work/pgbouncer-$port.ini" <<CFG
[databases]
$db = host=$OBS_TEST_PG_HOST port=$OBS_TEST_PG_PORT dbname=$db
q$db = host=$OBS_TEST_PG_HOST port=$OBS_TEST_PG_PORT dbname=$db pool_size=$queued_pool_size
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $work/userlist.txt
pool_mode = transaction
default_pool_size = $pool_size
max_client_conn = 200
logfile = $work/pgbouncer-$port.log
pidfile = $work/pgbouncer-$port.pid
CFG
  chmod 644 "$work"/*.ini "$work/userlist.txt"
  if [[ $(id -u) == 0 ]]; then
    chown -R postgres: "$work"
    runuser -u postgres -- "$@" pgbouncer -q "$work/pgbouncer-$port.ini" &
  else
    "$@" pgbouncer -q "$work/pgbouncer-$port.ini" &
  fi
  pids+=($!)
  for _ in $(seq 300); do [[ -s $work/pgbouncer-$port.pid ]] && break; sleep 0.1; done
}
bouncer_port=$(free_port); start_bouncer "$bouncer_port"
pooler_pid=${pids[0]}
disabled_pid=${pids[1]}

wait_ready() {  # port: until a query goes through
  for _ in $(seq 300); do
    PGPASSWORD=$password psql -qXAt -h 127.0.0.1 -p "$1" -U "$user" -d "$db" -c 'SELECT 1' >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "bench: nothing answers on port $1" >&2
  return 1
}

for port in "$pooler_port" "$disabled_port" "$bouncer_port"; do wait_ready "$port"; done

declare -A targets=([direct]="$OBS_TEST_PG_HOST:$OBS_TEST_PG_PORT" [pgbouncer]="127.0.0.1:$bouncer_port"
                    [pooler]="127.0.0.1:$pooler_port" [pooler_obs_disabled]="127.0.0.1:$disabled_port")
order=(direct pgbouncer pooler pooler_obs_disabled)
declare -A pid_of=([pgbouncer]=$(cat "$work/pgbouncer-$bouncer_port.pid") [pooler]=$pooler_pid [pooler_obs_disabled]=$disabled_pid)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

declare -A results cpu
for round in $(seq "$rounds"); do
  # Every other round runs the targets backwards, so that none always runs
  # right after the same one (PostgreSQL busy with its last clients' backends).
  round_order=("${order[@]}")
  if ((round % 2 == 0)); then round_order=(); for target in "${order[@]}"; do round_order=("$target" "${round_order[@]}"); done; fi
  for load in select tpcb; do
    for clients in 8 32; do
      for target in "${round_order[@]}"; do
        host=${targets[$target]%:*}
        port=${targets[$target]#*:}
        flag=""
        [[ $load == select ]] && flag="-S"
        pid=${pid_of[$target]:-}
        before=$([[ -n $pid ]] && cpu_ticks "$pid" || echo 0)
        out=$(PGPASSWORD=$password pgbench -n $flag -c "$clients" -j 2 -T "$seconds" -h "$host" -p "$port" -U "$user" "$db" 2>&1)
        after=$([[ -n $pid ]] && cpu_ticks "$pid" || echo 0)
        tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' <<<"$out")
        xacts=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
        results[$target,$load,$clients]+="${tps:-0} "
        # CPU microseconds per transaction; a tick is 1/CLK_TCK seconds.
        us=$(awk -v t=$((after - before)) -v n="${xacts:-0}" -v hz="$(getconf CLK_TCK)" 'BEGIN {print (n ? t * 1e6 / hz / n : 0)}')
        cpu[$target,$load,$clients]+="$us "
        echo "round $round $load c=$clients $target: $tps tps, $us us CPU/xact" >&2
      done
    done
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo "| load | clients | direct | pgbouncer 1.18 | pooler | pooler, OBS_DISABLE=1 | pooler / pgbouncer | pooler / OBS_DISABLE=1 |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for load in select tpcb; do
  for clients in 8 32; do
    declare -A m
    for target in "${order[@]}"; do m[$target]=$(echo "${results[$target,$load,$clients]}" | median); done
    label=$([[ $load == select ]] && echo "pgbench -S" || echo "TPC-B-like")
    awk -v l="$label" -v c="$clients" -v d="${m[direct]}" -v b="${m[pgbouncer]}" -v p="${m[pooler]}" -v n="${m[pooler_obs_disabled]}" \
      'BEGIN {printf "| %s | %d | %.0f | %.0f | %.0f | %.0f | %.2f | %.3f |\n", l, c, d, b, p, n, (b ? p/b : 0), (n ? p/n : 0)}'
  done
done

echo
echo "| load | clients | pgbouncer 1.18, CPU us/xact | pooler | pooler, OBS_DISABLE=1 | pooler / pgbouncer | pooler / OBS_DISABLE=1 |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for load in select tpcb; do
  for clients in 8 32; do
    declare -A c
    for target in pgbouncer pooler pooler_obs_disabled; do c[$target]=$(echo "${cpu[$target,$load,$clients]}" | median); done
    label=$([[ $load == select ]] && echo "pgbench -S" || echo "TPC-B-like")
    awk -v l="$label" -v k="$clients" -v b="${c[pgbouncer]}" -v p="${c[pooler]}" -v n="${c[pooler_obs_disabled]}" \
      'BEGIN {printf "| %s | %d | %.1f | %.1f | %.1f | %.2f | %.3f |\n", l, k, b, p, n, (b ? p/b : 0), (n ? p/n : 0)}'
  done
done
echo
echo "Spread over the rounds, min / median / max:"
echo
echo "| load | clients | target | tps | CPU us/xact |"
echo "| --- | --- | --- | --- | --- |"
spread() { tr ' ' '\n' | grep -v '^$' | sort -g | awk -v d="$1" '{a[NR]=$1} END {m=(NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2); printf "%.*f / %.*f / %.*f", d, a[1], d, m, d, a[NR]}'; }
for load in select tpcb; do
  for clients in 8 32; do
    label=$([[ $load == select ]] && echo "pgbench -S" || echo "TPC-B-like")
    for target in "${order[@]}"; do
      tps_spread=$(echo "${results[$target,$load,$clients]}" | spread 0)
      cpu_spread=$([[ $target == direct ]] && echo "-" || echo "${cpu[$target,$load,$clients]}" | spread 1)
      echo "| $label | $clients | $target | $tps_spread | $cpu_spread |"
    done
  done
done
echo
echo "Medians of $rounds interleaved rounds of $seconds s, every other round in reverse order. $(bench_load_note)"

# System calls per select-only transaction at 8 clients, pgbouncer's and the
# pooler's: perf stat on the syscall tracepoints while pgbench runs. Most of
# a transaction's CPU is the kernel's, so these say where the two differ.
syscall_names=(recvfrom sendto poll epoll_wait epoll_ctl read write)
events=$(printf 'syscalls:sys_enter_%s,' "${syscall_names[@]}")
header="| target |" separator="| --- |"
for name in "${syscall_names[@]}"; do header+=" \`$name\` |" separator+=" --- |"; done
echo
echo "System calls per transaction (perf stat on the syscall tracepoints; pgbench -S, 8 clients, $seconds s):"
echo
echo "$header"
echo "$separator"
for target in pgbouncer pooler; do
  port=${targets[$target]#*:}
  perf stat -x, -e "${events%,}" -p "${pid_of[$target]}" -o "$work/$target.syscalls" -- sleep $((seconds + 2)) \
    2>"$work/$target.perf-err" &
  stat_pid=$!
  sleep 1  # perf attached
  out=$(PGPASSWORD=$password pgbench -n -S -c 8 -j 2 -T "$seconds" -h 127.0.0.1 -p "$port" -U "$user" "$db" 2>&1)
  wait "$stat_pid" || { echo "bench: perf stat failed: $(head -c 300 "$work/$target.perf-err")" >&2; exit 1; }
  xacts=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
  row="| $target |"
  for name in "${syscall_names[@]}"; do
    row+=$(awk -F, -v e="syscalls:sys_enter_$name" -v x="$xacts" '$3 == e {printf " %.2f |", $1 / x}' \
      "$work/$target.syscalls")
  done
  echo "$row"
done

# Instructions per transaction under callgrind, one client: with more, how
# many messages one wake-up finds varies from run to run, and the count with
# it. The timed servers
# are stopped first so that they cannot take the CPU from the slowed-down ones.
for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
wait 2>/dev/null || true
pids=()
counted_port=$(free_port); start_pooler "$POOLER" "$counted_port" "$(free_port)" pooler
counted_disabled_port=$(free_port); start_pooler "$POOLER_DISABLED" "$counted_disabled_port" "$(free_port)" pooler_obs_disabled
counted_bouncer_port=$(free_port)
start_bouncer "$counted_bouncer_port" valgrind --tool=callgrind --callgrind-out-file="$work/callgrind/pgbouncer.callgrind"
instructions_adopt pgbouncer "$(cat "$work/pgbouncer-$counted_bouncer_port.pid")" "$work/callgrind"
declare -A counted_port_of=([pgbouncer]=$counted_bouncer_port [pooler]=$counted_port [pooler_obs_disabled]=$counted_disabled_port)
for port in "${counted_port_of[@]}"; do wait_ready "$port"; done

pgbench_xacts() {  # port flag [clients database]: $INSTRUCTIONS_OPS transactions, one client unless told
  local clients=${3:-1}
  PGPASSWORD=$password pgbench -n $2 -c "$clients" -j "$((clients > 1 ? 2 : 1))" -t "$((INSTRUCTIONS_OPS / clients))" \
    -h 127.0.0.1 -p "$1" -U "$user" "${4:-$db}"
}
echo
echo "Instructions per transaction (callgrind; $counted_xacts and $((2 * counted_xacts)) transactions by one client, the difference over $counted_xacts;"
echo "queued: the same by 8 clients through a pool of $queued_pool_size, so that nearly every transaction waits for a connection):"
echo
echo "| load | pgbouncer 1.18 | pooler | pooler, OBS_DISABLE=1 | pooler / pgbouncer | pooler / OBS_DISABLE=1 | in obs's code, inlined included |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for load in select tpcb queued; do
  flag="" queue=()
  [[ $load != tpcb ]] && flag="-S"
  [[ $load == queued ]] && queue=(8 "q$db")
  declare -A ir obs
  for target in pgbouncer pooler pooler_obs_disabled; do
    read -r ir[$target] obs[$target] < <(instructions_per_op "$target" "$counted_xacts" pgbench_xacts "${counted_port_of[$target]}" "$flag" "${queue[@]}")
    echo "$load $target: ${ir[$target]} instructions/xact, ${obs[$target]} in obs" >&2
  done
  label=$(case $load in select) echo "pgbench -S" ;; tpcb) echo "TPC-B-like" ;; queued) echo "pgbench -S, queued" ;; esac)
  awk -v l="$label" -v b="${ir[pgbouncer]}" -v p="${ir[pooler]}" -v n="${ir[pooler_obs_disabled]}" -v o="${obs[pooler]}" \
    'BEGIN {printf "| %s | %d | %d | %d | %.2f | %.4f | %.1f (%.2f %%) |\n", l, b, p, n, p/b, p/n, o, 100*o/p}'
done
