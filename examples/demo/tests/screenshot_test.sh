#!/usr/bin/env bash
# ctest demo.screenshot: lib/screenshot.sh takes a PNG of a Prometheus graph
# page with headless Chromium and the graph is drawn in it. infra_run.sh
# starts the demo's servers and a Prometheus scraping itself, waits for a few
# scrapes and shoots rate(prometheus_http_requests_total[30s]); this checks
# the PNG is a 1400x900 image, the page's graph drew lines for Prometheus's
# own series, and no Chromium process is left.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/obs-demo-screenshot-test.XXXXXX")
# PostgreSQL runs as the postgres user and must reach its directory in here.
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
fail() {
  printf 'FAIL: %s\n' "$*" >&2
  cat "$work/run.log" >&2 || true
  exit 1
}

command -v chromium >/dev/null || fail "chromium is not installed (Debian package chromium; tests/install-deps)"
TMPDIR=$work timeout 300 bash "$here/infra_run.sh" --ephemeral --duration 1 --screenshot "$work/graph.png" \
  >"$work/run.log" 2>&1 || fail "infra_run.sh --screenshot exited with $?"

size=$(/usr/bin/python3 - "$work/graph.png" <<'PY'
import struct, sys
png = open(sys.argv[1], "rb").read(24)
assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR", "not a PNG"
print("%dx%d" % struct.unpack(">II", png[16:24]))
PY
) || fail "graph.png is not a PNG"
[[ $size == 1400x900 ]] || fail "graph.png is $size, not 1400x900"
grep -q '^  {code="200",handler="/metrics",.*job="prometheus"}$' "$work/run.log" ||
  fail "the graph drew no line for Prometheus's own /metrics requests"
left=$(ps -eo pid=,args= | grep -F -- "$work/" | grep -v grep || true)
[[ -z $left ]] || fail "processes left: $left"
echo "ok: $size PNG of a drawn Prometheus graph; series: $(grep -c '^  {' "$work/run.log")"
