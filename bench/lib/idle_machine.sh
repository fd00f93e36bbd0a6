# Sourced by the service benches: timed figures from a busy machine measure
# its other load as much as the server, so a bench records the load average
# when it starts and refuses to run when the machine is busy.
#
#   bench_require_idle   at the start: prints the load average; above half
#                        the CPUs (1.0 on 2 cores) it exits 1, unless
#                        BENCH_ALLOW_LOAD=1, which runs anyway and marks the
#                        results (bench_load_note says so)
#   bench_load_note      the line to print under the tables

bench_require_idle() {
  local cpus
  read -r BENCH_LOAD_AT_START _ </proc/loadavg
  cpus=$(nproc)
  BENCH_LOADED=
  echo "bench: load average at start $BENCH_LOAD_AT_START on $cpus CPUs" >&2
  if awk -v l="$BENCH_LOAD_AT_START" -v c="$cpus" 'BEGIN { exit !(l > c / 2) }'; then
    if [[ ${BENCH_ALLOW_LOAD:-0} == 1 ]]; then
      BENCH_LOADED=1
      echo "bench: the machine is busy; BENCH_ALLOW_LOAD=1, so running and marking the results" >&2
    else
      echo "bench: the machine is busy (load average $BENCH_LOAD_AT_START on $cpus CPUs, above half of" \
        "them): timed figures would measure that load. Wait until it is idle, or set BENCH_ALLOW_LOAD=1" \
        "to run anyway with the results marked." >&2
      exit 1
    fi
  fi
}

bench_load_note() {
  local note="Load average when the run started: $BENCH_LOAD_AT_START on $(nproc) CPUs"
  [[ -n ${BENCH_LOADED:-} ]] && note+=" (**a busy machine**: above half the CPUs, so these timed figures measure its other load too)"
  echo "$note."
}
