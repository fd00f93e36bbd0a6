#!/usr/bin/env bash
# ctest demo.help: `run --help` (and -h) prints the usage at the head of run,
# without its comment marks, and exits 0 before installing or starting
# anything; an unknown argument exits 2 and says where the usage is.
set -euo pipefail
run=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/run

fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

for flag in --help -h; do
  out=$(bash "$run" "$flag") || fail "run $flag exited $?"
  grep -q '^  bash examples/demo/run \[--duration D\]' <<<"$out" || fail "run $flag lacks the usage line:"$'\n'"$out"
  grep -q -- '--screenshot FILE' <<<"$out" || fail "run $flag lacks the options"
  if grep -q '^#' <<<"$out"; then fail "run $flag prints comment marks:"$'\n'"$out"; fi
  if grep -q 'set -euo' <<<"$out"; then fail "run $flag prints code past the comment"; fi
done

rc=0
err=$(bash "$run" --no-such-option 2>&1) || rc=$?
((rc == 2)) || fail "an unknown argument exited $rc, not 2: $err"
grep -q -- '--help lists them' <<<"$err" || fail "the unknown-argument message does not point at --help: $err"
echo "ok"
