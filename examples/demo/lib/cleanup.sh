# shellcheck shell=bash source-path=SCRIPTDIR
# What the demo started, and how it all stops. Sourced (bash 4+; servers.sh,
# prometheus.sh and screenshot.sh source it for you):
#
#   demo_parse_args "$@"          # --duration, --ephemeral; the rest in DEMO_ARGS
#   demo_install_traps            # EXIT/INT/TERM/HUP -> demo_cleanup (demo_init does it)
#   demo_spawn NAME CMD...        # start a process in a session of its own, tracked
#   demo_wait "$DEMO_DURATION"    # until Ctrl-C, the duration, or a process dies
#
# Each process runs in a session (and process group) of its own, so Ctrl-C
# signals only the script; its trap then stops the groups in reverse order of
# start (traffic and services before the servers they use). A whole group is
# signalled, so children die with their parent. The script must not enable
# job control (set -m), under which setsid would fork and the PID would not
# be the group's.

[[ -z ${demo_cleanup_loaded:-} ]] || return 0
demo_cleanup_loaded=1

demo_lib_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
demo_repo_dir=$(cd "$demo_lib_dir/../../.." && pwd)

demo_say() { printf 'demo: %s\n' "$*" >&2; }

# Parallel arrays: the name and process group of everything started.
declare -ga demo_names=() demo_pgids=()
demo_cleaned=0
demo_sleep_pid=

# demo_parse_args ARGS...: the options every demo script takes.
#   --duration D   run for D (N, Ns, Nm or Nh) then stop; default: until Ctrl-C
#   --ephemeral    free ports instead of the fixed defaults (OBS_DEMO_EPHEMERAL=1)
# Sets DEMO_DURATION (seconds, 0 = forever); other arguments go to DEMO_ARGS.
# shellcheck disable=SC2034  # DEMO_DURATION and DEMO_ARGS are for the caller
demo_parse_args() {
  DEMO_DURATION=0
  DEMO_ARGS=()
  while (($#)); do
    case $1 in
      --duration) (($# >= 2)) || { demo_say "--duration needs a value, e.g. --duration 60s"; return 2; }
                  DEMO_DURATION=$(demo_seconds "$2") || return 2; shift 2 ;;
      --duration=*) DEMO_DURATION=$(demo_seconds "${1#*=}") || return 2; shift ;;
      --ephemeral) export OBS_DEMO_EPHEMERAL=1; shift ;;
      *) DEMO_ARGS+=("$1"); shift ;;
    esac
  done
}

# demo_seconds D: prints D (N, Ns, Nm, Nh) in seconds.
demo_seconds() {
  local n unit
  [[ $1 =~ ^([0-9]+)([smh]?)$ ]] || { demo_say "bad duration '$1' (want e.g. 90, 90s, 5m or 1h)"; return 1; }
  n=${BASH_REMATCH[1]} unit=${BASH_REMATCH[2]}
  case $unit in
    m) n=$((n * 60)) ;;
    h) n=$((n * 3600)) ;;
  esac
  echo "$n"
}

# demo_install_traps: cleanup on every way out. INT/TERM/HUP only exit (with
# the shell's usual 128+N status); the EXIT trap does the work, once.
demo_install_traps() {
  set +m
  trap demo_on_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
}

demo_on_exit() {
  local rc=$?
  demo_cleanup || true
  exit "$rc"
}

# demo_track NAME PGID: records a process group started by other means (the
# postmaster, which pg_ctl puts in a session of its own).
demo_track() {
  demo_names+=("$1")
  demo_pgids+=("$2")
}

# demo_spawn NAME CMD...: starts CMD in the background in a new session, its
# output in DEMO_DIR/logs/NAME.log, stdin from /dev/null, and tracks it.
# DEMO_LAST_PGID is its PID, which is also its process group and session.
demo_spawn() {
  local name=$1 stat pgrp
  shift
  setsid "$@" >"$DEMO_DIR/logs/$name.log" 2>&1 </dev/null &
  DEMO_LAST_PGID=$!
  demo_track "$name" "$DEMO_LAST_PGID"
  # The child calls setsid() after the fork: until then there is no group
  # DEMO_LAST_PGID, so signalling it (a cleanup right away) or kill -0 on it
  # (demo_wait_for) would fail as if the process had ended. Wait for the
  # group, with builtins (/proc/PID/stat: pgrp is the third field after the
  # command name); a process that already ended ends the wait too.
  while { read -r stat </proc/"$DEMO_LAST_PGID"/stat; } 2>/dev/null; do
    read -r _ _ pgrp _ <<<"${stat##*) }"
    [[ $pgrp == "$DEMO_LAST_PGID" ]] && break
    sleep 0.01
  done
}

# demo_untrack PGID: forgets a group that ended by itself (a finished batch
# job, a screenshot).
demo_untrack() {
  local i
  for i in "${!demo_pgids[@]}"; do
    [[ ${demo_pgids[$i]} == "$1" ]] && unset 'demo_names[i]' 'demo_pgids[i]'
  done
  demo_names=("${demo_names[@]}") demo_pgids=("${demo_pgids[@]}")
}

# demo_group_alive PGID: succeeds while the group has a member that is not a
# zombie. kill -0 would count zombies, and orphans whose reaper does not reap
# (PID 1 in some containers) stay zombies for good.
demo_group_alive() {
  ps -eo pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { found = 1 } END { exit !found }'
}

# demo_pid_alive PID: succeeds while PID exists and is not a zombie. Only
# builtins (read from /proc), so the demo's main loop costs nothing.
demo_pid_alive() {
  local stat
  { read -r stat </proc/"$1"/stat; } 2>/dev/null || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]]
}

# demo_stop_group NAME PGID: SIGTERM to the group, up to 10 s to go, then
# SIGKILL.
demo_stop_group() {
  local name=$1 pgid=$2 deadline
  kill -TERM -- "-$pgid" 2>/dev/null || return 0
  deadline=$((SECONDS + 10))
  while demo_group_alive "$pgid"; do
    if ((SECONDS >= deadline)); then
      demo_say "$name (group $pgid) ignored SIGTERM for 10s; killing it"
      kill -KILL -- "-$pgid" 2>/dev/null || true
      sleep 0.2
      return 0
    fi
    sleep 0.1
  done
}

# demo_cleanup: stops everything tracked, newest first (PostgreSQL with a
# fast shutdown first, so it does not log a crash), removes DEMO_DIR, and
# checks that no tracked process and no reserved port is left. Safe to call
# twice: the second call does nothing. Returns 1 if something remained.
demo_cleanup() {
  ((demo_cleaned)) && return 0
  demo_cleaned=1
  # A second Ctrl-C must not cut the cleanup short.
  trap '' INT TERM HUP
  if [[ -n $demo_sleep_pid ]]; then kill "$demo_sleep_pid" 2>/dev/null || true; fi
  local i
  for ((i = ${#demo_pgids[@]} - 1; i >= 0; i--)); do
    if [[ ${demo_names[i]} == postgres && -n ${DEMO_PG_DIR:-} ]]; then
      bash "$demo_repo_dir/tests/support/pg-cluster" stop "$DEMO_PG_DIR" || true
    fi
    demo_stop_group "${demo_names[i]}" "${demo_pgids[i]}"
  done
  # A PostgreSQL start cut short before it was tracked.
  if [[ -n ${DEMO_PG_DIR:-} && -f $DEMO_PG_DIR/data/postmaster.pid ]]; then
    bash "$demo_repo_dir/tests/support/pg-cluster" stop "$DEMO_PG_DIR" || true
  fi
  if [[ -n ${DEMO_DIR:-} && -d $DEMO_DIR ]]; then
    rm -rf "$DEMO_DIR"
  fi
  demo_check_gone "${demo_pgids[*]}" "${DEMO_PORT[*]}"
}

# demo_check_gone "PGID..." "PORT...": prints each process group that still
# has a live member and each port something still listens on; fails if any.
demo_check_gone() {
  local pgid port left=0
  for pgid in $1; do
    if demo_group_alive "$pgid"; then
      demo_say "process group $pgid is still running: $(ps -o pid=,comm= -g "$pgid" | paste -sd' ')"
      left=1
    fi
  done
  for port in $2; do
    if [[ -n $(ss -Hltn "sport = :$port") ]]; then
      demo_say "port $port is still listening: $(ss -Hltnp "sport = :$port")"
      left=1
    fi
  done
  return "$left"
}

# demo_log_tail: the last lines of the log DEMO_WAIT_LOG names, if any.
demo_log_tail() {
  [[ -n ${DEMO_WAIT_LOG:-} && -f $DEMO_WAIT_LOG ]] || return 0
  demo_say "last lines of $DEMO_WAIT_LOG:"
  tail -n 20 "$DEMO_WAIT_LOG" >&2
}

# demo_wait SECONDS: the demo's main loop. Returns 0 after SECONDS (0 means
# never), or 1 as soon as the leader of a tracked process group has died,
# naming it and printing its log's tail. Ctrl-C interrupts the wait and runs
# the traps.
demo_wait() {
  local end=0 i
  (($1 > 0)) && end=$((SECONDS + $1))
  while ((end == 0 || SECONDS < end)); do
    for i in "${!demo_pgids[@]}"; do
      if ! demo_pid_alive "${demo_pgids[i]}"; then
        demo_say "${demo_names[i]} stopped unexpectedly"
        DEMO_WAIT_LOG=$DEMO_DIR/logs/${demo_names[i]}.log demo_log_tail
        return 1
      fi
    done
    # A foreground sleep would delay the traps until it ends; wait returns
    # as soon as a signal arrives.
    sleep 1 &
    demo_sleep_pid=$!
    wait "$demo_sleep_pid" || true
    demo_sleep_pid=
  done
}

# demo_state_write FILE: the run's coordinates as shell assignments, for a
# test that drives a demo from outside (`. FILE`): DEMO_DIR, DEMO_PGIDS,
# DEMO_PORTS (all reserved ports) and DEMO_PORT_<NAME> per port. Written to a
# temporary name first, so a reader polling for FILE never sees half of it.
demo_state_write() {
  local name
  {
    printf 'DEMO_DIR=%q\n' "$DEMO_DIR"
    printf 'DEMO_PGIDS=%q\n' "${demo_pgids[*]}"
    printf 'DEMO_PORTS=%q\n' "${DEMO_PORT[*]}"
    for name in "${!DEMO_PORT[@]}"; do
      printf 'DEMO_PORT_%s=%q\n' "${name^^}" "${DEMO_PORT[$name]}"
    done
  } >"$1.tmp" && mv "$1.tmp" "$1"
}
