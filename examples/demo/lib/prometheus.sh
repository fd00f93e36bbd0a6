# shellcheck shell=bash source-path=SCRIPTDIR
# A real Prometheus (Debian's /usr/bin/prometheus) for the demo, and helpers
# for its HTTP API (https://prometheus.io/docs/prometheus/latest/querying/api/).
# Sourced (bash 4+; sources servers.sh and cleanup.sh):
#
#   demo_prom_add_target pooler 127.0.0.1:16433     # job, address[, path]
#   demo_prom_add_rules examples/pooler/prometheus/alerts/database.rules.yml
#   demo_start_prometheus                           # on DEMO_PORT[prometheus]
#   demo_prom_wait_targets_up 60
#   demo_prom_value 'sum(rate(pgcache_queries_total[30s]))'
#
# Prometheus always scrapes itself too (job "prometheus"), and takes
# remote_write pushes on demo_prom_write_url. The HTTP API's JSON is read with
# python3's standard library.

[[ -z ${demo_prometheus_loaded:-} ]] || return 0
demo_prometheus_loaded=1
# shellcheck source=servers.sh
. "$(dirname "${BASH_SOURCE[0]}")/servers.sh"

# "job|address|metrics path" per target, and the rule files, in the order
# added.
declare -ga demo_prom_targets=() demo_prom_rule_files=()
# Short, so that a few minutes of demo show curves and rate()s over 30s work.
DEMO_PROM_INTERVAL=${DEMO_PROM_INTERVAL:-2s}

# demo_prom_add_target JOB HOST:PORT [METRICS_PATH]: one more scrape target
# (path default /metrics), before demo_start_prometheus.
demo_prom_add_target() {
  local job=$1 address=$2 path=${3:-/metrics}
  # Everything goes into YAML double quotes unescaped; keep it plain.
  if [[ ! $job =~ ^[a-zA-Z_][a-zA-Z0-9_]*$ || ! $address =~ ^[a-zA-Z0-9.:-]+$ || ! $path =~ ^/[a-zA-Z0-9/_.-]*$ ]]; then
    demo_say "bad scrape target: job '$job', address '$address', path '$path'"
    return 1
  fi
  demo_prom_targets+=("$job|$address|$path")
}

# demo_prom_add_rules FILE...: rule files (alerting or recording) to load.
demo_prom_add_rules() {
  local f
  for f in "$@"; do
    [[ -f $f ]] || { demo_say "rule file $f not found"; return 1; }
    [[ $f != *'"'* && $f != *'\'* ]] || { demo_say "rule file name $f needs quoting"; return 1; }
    demo_prom_rule_files+=("$(cd "$(dirname "$f")" && pwd)/$(basename "$f")")
  done
}

# demo_prom_write_config FILE: prometheus.yml with the targets and rule
# files added so far, scraping and evaluating every DEMO_PROM_INTERVAL.
demo_prom_write_config() {
  local t job address path f
  {
    printf 'global:\n  scrape_interval: %s\n  scrape_timeout: %s\n  evaluation_interval: %s\n' \
      "$DEMO_PROM_INTERVAL" "$DEMO_PROM_INTERVAL" "$DEMO_PROM_INTERVAL"
    printf 'rule_files:\n'
    for f in "${demo_prom_rule_files[@]}"; do printf '  - "%s"\n' "$f"; done
    ((${#demo_prom_rule_files[@]})) || printf '  []\n'
    printf 'scrape_configs:\n'
    printf '  - job_name: "prometheus"\n    static_configs:\n      - targets: ["127.0.0.1:%s"]\n' \
      "${DEMO_PORT[prometheus]}"
    for t in "${demo_prom_targets[@]}"; do
      IFS='|' read -r job address path <<<"$t"
      printf '  - job_name: "%s"\n    metrics_path: "%s"\n    static_configs:\n      - targets: ["%s"]\n' \
        "$job" "$path" "$address"
    done
  } >"$1"
}

# demo_prom_write_url: where a service pushes (remote_write 1.0) into the
# demo's Prometheus; known once the prometheus port is reserved.
demo_prom_write_url() { echo "http://127.0.0.1:${DEMO_PORT[prometheus]}/api/v1/write"; }

# demo_start_prometheus: writes DEMO_DIR/prometheus/prometheus.yml, checks it
# with promtool (rule files included, so a broken rule fails here with
# promtool's message), starts Prometheus on 127.0.0.1:DEMO_PORT[prometheus]
# with its storage in DEMO_DIR and its remote_write receiver on, and waits
# until /-/ready. Exports
# DEMO_PROM_URL (http://127.0.0.1:PORT).
demo_start_prometheus() {
  local dir=$DEMO_DIR/prometheus port=${DEMO_PORT[prometheus]:-}
  [[ -n $port ]] || demo_ports_reserve prometheus || return 1
  port=${DEMO_PORT[prometheus]}
  mkdir -p "$dir/data" || return 1
  demo_prom_write_config "$dir/prometheus.yml" || return 1
  promtool check config "$dir/prometheus.yml" >"$DEMO_DIR/logs/promtool.log" 2>&1 || {
    demo_say "promtool rejects the Prometheus configuration:"
    cat "$DEMO_DIR/logs/promtool.log" >&2
    return 1
  }
  demo_spawn prometheus prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
    --web.listen-address="127.0.0.1:$port" --web.enable-remote-write-receiver --storage.tsdb.retention.time=1d \
    --log.level=warn || return 1
  DEMO_PROM_URL=http://127.0.0.1:$port
  export DEMO_PROM_URL
  DEMO_WAIT_LOG=$DEMO_DIR/logs/prometheus.log demo_wait_for "Prometheus on port $port" 60 "$DEMO_LAST_PGID" \
    curl -sf -o /dev/null "$DEMO_PROM_URL/-/ready"
}

# Reads one Prometheus API response on stdin and prints it as lines for
# the shell, by view (argv[1]): "query" (one sample per line, `{labels}
# VALUE`, labels sorted; a scalar is just VALUE), "targets" (`JOB INSTANCE
# HEALTH LAST_ERROR`), "alerts" (`ALERTNAME STATE {labels}`, argv[2] keeps
# one state). Exits non-zero with Prometheus's error unless status is
# "success".
demo_prom_py='
import json, sys

def labels(m, skip=()):
    return "{%s}" % ",".join("%s=\"%s\"" % kv for kv in sorted(m.items()) if kv[0] not in skip)

r = json.load(sys.stdin)
if r.get("status") != "success":
    sys.exit("demo: Prometheus: %s: %s" % (r.get("errorType"), r.get("error")))
data, view = r["data"], sys.argv[1]
if view == "query":
    if data["resultType"] in ("scalar", "string"):
        print(data["result"][1])
    else:
        for s in data["result"]:
            value = s["value"][1] if "value" in s else s["values"][-1][1]
            print(labels(s["metric"]), value)
elif view == "targets":
    for t in data["activeTargets"]:
        print(t["labels"].get("job", ""), t["labels"].get("instance", ""), t["health"], t.get("lastError", ""))
elif view == "alerts":
    for a in data["alerts"]:
        if len(sys.argv) < 3 or not sys.argv[2] or a["state"] == sys.argv[2]:
            print(a["labels"]["alertname"], a["state"], labels(a["labels"], ("alertname",)))
'

# demo_prom_api VIEW PATH [CURL_ARGS...] [-- VIEW_ARGS...]: GET
# DEMO_PROM_URL/api/v1/PATH and print it as VIEW (see demo_prom_py).
demo_prom_api() {
  local view=$1 path=$2 body
  shift 2
  local curl_args=() view_args=()
  while (($#)) && [[ $1 != -- ]]; do curl_args+=("$1"); shift; done
  (($#)) && shift
  view_args=("$@")
  # No pipe: a failed curl must fail the function without pipefail.
  body=$(curl -sS -G --max-time 10 "${curl_args[@]}" "$DEMO_PROM_URL/api/v1/$path") || return 1
  "$demo_python" -c "$demo_prom_py" "$view" "${view_args[@]}" <<<"$body"
}

# demo_prom_query EXPR: an instant query; one line per sample,
# `{label="value",...} VALUE` (labels sorted), or just VALUE for a scalar.
# Prints nothing for an empty result.
demo_prom_query() {
  demo_prom_api query query --data-urlencode "query=$1"
}

# demo_prom_value EXPR: the value of the first sample EXPR returns; fails
# (printing nothing) when the result is empty.
demo_prom_value() {
  local out
  out=$(demo_prom_query "$1") || return 1
  [[ -n $out ]] || return 1
  out=${out%%$'\n'*}
  echo "${out##* }"
}

# demo_prom_wait EXPR SECONDS: waits until EXPR returns at least one sample;
# write the condition into EXPR, e.g. 'rate(x_total[30s]) > 0'.
demo_prom_wait() {
  demo_wait_for "Prometheus query '$1'" "$2" "" demo_prom_value "$1"
}

# demo_prom_targets: one line per active target, `JOB INSTANCE HEALTH
# LAST_ERROR` (health is up, down or unknown).
demo_prom_targets() {
  demo_prom_api targets targets --data-urlencode state=active
}

demo_prom_all_up() {
  local lines
  lines=$(demo_prom_targets) || return 1
  [[ -n $lines ]] && ! awk '$3 != "up" { bad = 1 } END { exit !bad }' <<<"$lines"
}

# demo_prom_wait_targets_up SECONDS: waits until every target has been
# scraped successfully; on timeout prints the targets with their errors.
demo_prom_wait_targets_up() {
  demo_wait_for "every Prometheus target up" "$1" "" demo_prom_all_up && return 0
  demo_prom_targets >&2 || true
  return 1
}

# demo_prom_alerts [STATE]: one line per active alert, `ALERTNAME STATE
# {labels}`; STATE (pending or firing) keeps only those.
demo_prom_alerts() {
  demo_prom_api alerts alerts -- "${1:-}"
}

# demo_prom_graph_url EXPR...: the URL of Prometheus's graph page with one
# graph panel per EXPR over the last DEMO_PROM_RANGE (default 5m), for the
# printed screen and for screenshots.
demo_prom_graph_url() {
  "$demo_python" -c '
import sys, urllib.parse
base, rng, exprs = sys.argv[1], sys.argv[2], sys.argv[3:]
q = []
for i, e in enumerate(exprs):
    q += [("g%d.expr" % i, e), ("g%d.tab" % i, "0"), ("g%d.range_input" % i, rng)]
print(base + "/graph?" + urllib.parse.urlencode(q))' "$DEMO_PROM_URL" "${DEMO_PROM_RANGE:-5m}" "$@"
}
