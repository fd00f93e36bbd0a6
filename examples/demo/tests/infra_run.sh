#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# The demo without its services: starts the throwaway PostgreSQL, Redis,
# s3rver, a static /metrics file served by python3's http.server where a
# service would be, and a Prometheus scraping both and itself; prints where
# they are, and runs until Ctrl-C or --duration, then stops everything. infra_test.sh drives it;
# it is also the quickest way to try the lib/ functions by hand:
#
#   bash examples/demo/tests/infra_run.sh [--ephemeral] [--duration D]
#        [--rules FILE]... [--state FILE] [--screenshot FILE.png]
#
# --state FILE writes the run's ports and process groups (demo_state_write)
# once everything is up; --screenshot FILE takes a PNG of a Prometheus graph.
set -euo pipefail
# shellcheck source=../lib/prometheus.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/prometheus.sh"
# shellcheck source=../lib/screenshot.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/screenshot.sh"

demo_parse_args "$@"
state='' screenshot='' rules=()
set -- "${DEMO_ARGS[@]}"
while (($#)); do
  case $1 in
    --state) state=$2; shift 2 ;;
    --screenshot) screenshot=$2; shift 2 ;;
    --rules) rules+=("$2"); shift 2 ;;
    *) demo_say "unknown argument $1"; exit 2 ;;
  esac
done

demo_init
# Every port is checked before anything starts.
# shellcheck disable=SC2034,SC2154  # an associative array of servers.sh
demo_default_ports[static_target]=19100
demo_ports_reserve postgres redis s3 prometheus static_target
demo_start_servers

# Started and scraped the way a service will be.
static=$DEMO_DIR/static_target
mkdir -p "$static"
printf '# HELP demo_infra_static A constant, served from a file.\n# TYPE demo_infra_static gauge\ndemo_infra_static 1\n' \
  >"$static/metrics"
port=${DEMO_PORT[static_target]}
demo_start_service static_target "http://127.0.0.1:$port/metrics" 30 \
  "$demo_python" -m http.server --bind 127.0.0.1 --directory "$static" "$port"
demo_prom_add_target static_target "127.0.0.1:$port" /metrics

((${#rules[@]} == 0)) || demo_prom_add_rules "${rules[@]}"
demo_start_prometheus
demo_prom_wait_targets_up 60

cat <<SCREEN
PostgreSQL  psql "host=127.0.0.1 port=${DEMO_PORT[postgres]} user=alice password=alice-secret dbname=mydb"
Redis       redis-cli -p ${DEMO_PORT[redis]}
S3          $DEMO_S3_ENDPOINT/$DEMO_S3_BUCKET (access key S3RVER, secret S3RVER)
Static      http://127.0.0.1:$port/metrics
Prometheus  $DEMO_PROM_URL
SCREEN

if [[ -n $screenshot ]]; then
  # A few scrapes first, so the graph has a line to draw.
  demo_prom_wait 'count_over_time(up{job="prometheus"}[1m]) >= 5' 60
  demo_screenshot "$(demo_prom_graph_url 'rate(prometheus_http_requests_total[30s])')" "$screenshot"
  echo "Screenshot  $screenshot, series drawn:"
  demo_screenshot_series | sed 's/^/  /'
fi
[[ -z $state ]] || demo_state_write "$state"
if ((DEMO_DURATION)); then echo "Running for ${DEMO_DURATION}s; Ctrl-C stops it."; else echo "Ctrl-C stops it."; fi
demo_wait "$DEMO_DURATION"
