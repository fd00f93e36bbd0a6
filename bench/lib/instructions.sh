# Instructions a server executes per operation, counted by valgrind's callgrind.
#
# Throughput and CPU time on a shared 2-core machine move by tens of percent
# with whatever else runs; the number of instructions a process executes for
# the same work does not. That makes it the figure that can resolve a 1 %
# difference, such as a service against the same service built with
# OBS_DISABLE=1. It counts work, not time: cache misses and lock waits are
# not in it, so it complements the timed runs rather than replacing them.
#
# Sourced (bash 4+) by bench/*/run scripts:
#
#   instructions_start NAME DIR CMD...   start CMD under callgrind, its dumps in DIR
#   instructions_adopt NAME PID DIR      one started otherwise (e.g. as another user)
#   instructions_per_op NAME N WORKLOAD...
#       run WORKLOAD (a command doing N operations) once to warm the server
#       up (its pools fill, its caches load), then counted with N and with
#       2*N (WORKLOAD sees the count in $INSTRUCTIONS_OPS), and print the
#       instructions per operation: the difference of the two counts over N,
#       so connection set-up and other fixed costs of a run cancel out.
#       Then, the same way, how many of them were obs's own: those in
#       functions named obs::..., and in a binary built with -g those on the
#       source lines of obs's headers, inlined ones included (a binary without
#       debug information counts an inlined counter add as its caller's; see
#       obs_instructions.py). Prints "ALL OBS".
#   instructions_run NAME N WORKLOAD...
#       one counted run: prints "ALL OBS"; WORKLOAD's output is kept in the
#       file `instructions_output NAME` prints, for workloads that report
#       their own count.
#   instructions_stop NAME
#
# Needs valgrind (Debian package valgrind). A server under callgrind runs some
# 50x slower, so N in the thousands is plenty.

declare -gA instructions_pid instructions_dir
instructions_lib=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

instructions_start() {  # NAME DIR CMD...
  local name=$1 dir=$2
  shift 2
  mkdir -p "$dir"
  valgrind --tool=callgrind --callgrind-out-file="$dir/$name.callgrind" \
    "$@" >"$dir/$name.log" 2>&1 &
  instructions_pid[$name]=$!
  instructions_dir[$name]=$dir
}

instructions_adopt() {  # NAME PID DIR
  instructions_pid[$1]=$2
  instructions_dir[$1]=$3
}

# callgrind_control finds a process through pipes named after its user, so it
# runs as the user that owns the process.
instructions_control() {  # OPTION PID
  local owner
  owner=$(stat -c %U "/proc/$2")
  if [[ $owner == "$(id -un)" ]]; then
    callgrind_control "$1" "$2" >/dev/null 2>&1
  else
    runuser -u "$owner" -- callgrind_control "$1" "$2" >/dev/null 2>&1
  fi
}

# Instructions since the last dump, all and obs's ("ALL OBS"). callgrind writes a dump file
# asynchronously, once the process next wakes up, so this waits for a new,
# complete one (its totals line comes last).
instructions_since_dump() {  # NAME
  local name=$1 pid=${instructions_pid[$1]} dir=${instructions_dir[$1]} before dumps
  before=$({ compgen -G "$dir/$name.callgrind.*" || true; } | wc -l)
  instructions_control --dump "$pid"
  for _ in $(seq 600); do
    dumps=$({ compgen -G "$dir/$name.callgrind.*" || true; } | wc -l)
    if ((dumps > before)) && grep -q '^totals:' "$dir/$name.callgrind.$dumps"; then
      python3 "$instructions_lib/obs_instructions.py" "$dir/$name.callgrind.$dumps"
      return 0
    fi
    sleep 0.1
  done
  echo "instructions: no dump from $name (pid $pid) in $dir" >&2
  return 1
}

instructions_output() { echo "${instructions_dir[$1]}/$1.workload.out"; }

instructions_run() {  # NAME N WORKLOAD...: "ALL OBS" for one run of N operations
  local name=$1 n=$2
  shift 2
  # A dump, not callgrind_control --zero, starts the count: a dump taken
  # after --zero in a server with threads still held costs from before it
  # (its totals line exceeded its own summary by 0.2-0.7 million
  # instructions), and the difference of two runs then took that off the
  # figure per operation. A dump holds exactly what ran since the last one.
  instructions_since_dump "$name" >/dev/null || return 1
  INSTRUCTIONS_OPS=$n "$@" >"$(instructions_output "$name")" || { echo "instructions: workload failed: $*" >&2; return 1; }
  instructions_since_dump "$name"
}

instructions_per_op() {  # NAME N WORKLOAD...
  local name=$1 n=$2 once twice
  shift 2
  INSTRUCTIONS_OPS=$n "$@" >/dev/null || { echo "instructions: workload failed: $*" >&2; return 1; }
  once=$(instructions_run "$name" "$n" "$@") || return 1
  twice=$(instructions_run "$name" $((2 * n)) "$@") || return 1
  awk -v a="$once" -v b="$twice" -v n="$n" \
    'BEGIN {split(a, x, " "); split(b, y, " "); printf "%.0f %.1f\n", (y[1] - x[1]) / n, (y[2] - x[2]) / n}'
}

instructions_stop() {  # NAME
  kill "${instructions_pid[$1]}" 2>/dev/null || true
  wait "${instructions_pid[$1]}" 2>/dev/null || true
}
