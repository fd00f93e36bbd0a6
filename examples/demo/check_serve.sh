#!/bin/sh
# Starts `obs_demo --serve` on an ephemeral port, scrapes /metrics while the
# traffic runs, lints the live scrape with promtool, then checks that SIGTERM
# stops the demo cleanly.
#   check_serve.sh <obs_demo> <promtool> <curl>
set -eu
demo=$1 promtool=$2 curl=$3
dir=$(mktemp -d)
"$demo" --serve --port 0 > "$dir/log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT

url=
for _ in $(seq 100); do
  url=$(sed -n 's|^serving on \(http://[^ ]*\)$|\1|p' "$dir/log")
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "obs_demo did not start:"; cat "$dir/log"; exit 1; }

# The traffic thread records its first values just after the server is up;
# on a busy machine that may be after the first scrape.
for _ in $(seq 50); do
  "$curl" -fsS "$url/metrics" > "$dir/metrics"
  grep -q '^ws_messages_sent_total ' "$dir/metrics" && break
  sleep 0.1
done
"$promtool" check metrics < "$dir/metrics"
grep -q '^ws_messages_sent_total ' "$dir/metrics" || { echo "no ws_messages_sent_total in the scrape"; exit 1; }
grep -q '^process_open_fds ' "$dir/metrics" || { echo "no process_open_fds in the scrape"; exit 1; }
"$curl" -fsS "$url/metrics?format=json" | grep -q '"name":"pgcache_queries_total"' ||
  { echo "no pgcache_queries_total in the JSON scrape"; exit 1; }

kill -TERM "$pid"
status=0
wait "$pid" || status=$?
[ "$status" -eq 0 ] || { echo "obs_demo exited with $status after SIGTERM"; exit 1; }
