#!/bin/sh
# Runs `promtool check metrics` (parse and lint) on every *.prom file in a
# directory and fails when promtool reports anything, or finds no files.
#
# Usage: check_promtool.sh <promtool> <directory>             expect clean
#        check_promtool.sh <promtool> --expect-reject <file>... expect each rejected
promtool=$1
shift
if ! "$promtool" --version >/dev/null 2>&1; then
  echo "cannot run $promtool" >&2
  exit 2
fi

if [ "$1" = "--expect-reject" ]; then
  shift
  status=0
  for f in "$@"; do
    report=$("$promtool" check metrics <"$f" 2>&1)
    rc=$?
    # promtool exits 1 on a parse error and 3 on lint problems; anything
    # else (a crash, a missing file) must not count as a rejection.
    if { [ $rc -eq 1 ] || [ $rc -eq 3 ]; } && [ -n "$report" ]; then
      echo "rejected as expected: $f: $report"
    else
      echo "NOT rejected (exit $rc): $f" >&2
      status=1
    fi
  done
  exit $status
fi

dir=$1
status=0
count=0
rejected=0
for f in "$dir"/*.prom; do
  [ -e "$f" ] || continue
  count=$((count + 1))
  report=$("$promtool" check metrics <"$f" 2>&1)
  rc=$?
  if [ $rc -ne 0 ] || [ -n "$report" ]; then
    echo "promtool rejected $f (exit $rc):" >&2
    echo "$report" >&2
    rejected=$((rejected + 1))
    status=1
  fi
done
if [ $count -eq 0 ]; then
  echo "no *.prom files in $dir" >&2
  exit 1
fi
echo "promtool check metrics: $count files checked, $rejected rejected"
exit $status
