# shellcheck shell=bash source-path=SCRIPTDIR
# A PNG of a web page (a Prometheus graph) with headless Chromium (Debian
# package chromium). Sourced (bash 4+; sources servers.sh and cleanup.sh):
#
#   demo_init                       # DEMO_DIR holds the profile and log
#   demo_screenshot "$(demo_prom_graph_url 'rate(up[1m])')" docs/demo.png

[[ -z ${demo_screenshot_loaded:-} ]] || return 0
demo_screenshot_loaded=1
# shellcheck source=servers.sh
. "$(dirname "${BASH_SOURCE[0]}")/servers.sh"

# demo_screenshot URL FILE [BUDGET_MS]: loads URL in a 1400x900 window and
# writes FILE, and the page's DOM at that moment to DEMO_SCREENSHOT_DOM
# (DEMO_DIR/logs/screenshot.html) for demo_screenshot_series. Chromium's
# virtual time runs BUDGET_MS (default 8000) of page time, paused while
# requests are in flight, before the shot: long enough for Prometheus's UI
# to fetch its query_range and draw the graph, and no real waiting when the
# page settles sooner. A fresh profile directory each time means no
# first-run state and nothing left behind; Chromium's helper processes share
# its process group, which is tracked while it runs, so Ctrl-C stops them
# too.
demo_screenshot() {
  local url=$1 out=$2 budget=${3:-8000} chromium profile pgid rc=0
  chromium=$(command -v chromium) || { demo_say "chromium is not installed (Debian package chromium)"; return 1; }
  profile=$(mktemp -d "$DEMO_DIR/chromium.XXXXXX") || return 1
  mkdir -p "$(dirname "$out")" || return 1
  DEMO_SCREENSHOT_DOM=$DEMO_DIR/logs/screenshot.html
  # --no-sandbox: Chromium refuses to run as root with its sandbox. The
  # --disable-* flags keep it from calling Google's services. timeout bounds
  # a renderer that never settles. Not demo_spawn: the DOM comes on stdout,
  # Chromium's chatter on stderr.
  setsid timeout -k 5 120 "$chromium" --headless --no-sandbox --disable-gpu --disable-quic \
    --no-first-run --disable-background-networking --disable-component-update --disable-sync \
    --hide-scrollbars --user-data-dir="$profile" --window-size=1400,900 \
    --virtual-time-budget="$budget" --screenshot="$(realpath -m "$out")" --dump-dom "$url" \
    >"$DEMO_SCREENSHOT_DOM" 2>"$DEMO_DIR/logs/chromium.log" </dev/null &
  pgid=$!
  demo_track chromium "$pgid"
  wait "$pgid" || rc=$?
  demo_stop_group chromium "$pgid"
  demo_untrack "$pgid"
  rm -rf "$profile"
  if ((rc != 0)) || [[ $(head -c 8 "$out" 2>/dev/null | od -An -tx1 | tr -d ' \n') != 89504e470d0a1a0a ]]; then
    demo_say "chromium did not write a PNG to $out (exit code $rc):"
    tail -n 20 "$DEMO_DIR/logs/chromium.log" >&2
    return 1
  fi
}

# demo_screenshot_series: the legend labels of the series in the last
# screenshot's Prometheus graph, one per line; fails unless the graph drew at
# least one line (an SVG path of two points or more), e.g. when the page had
# not rendered yet or the query was empty. Prometheus 2.x draws its graphs
# with Rickshaw: a <path class="path"> per series, a legend of
# <li class="line"> entries.
demo_screenshot_series() {
  "$demo_python" - "$DEMO_SCREENSHOT_DOM" <<'EOF'
import html, re, sys
dom = open(sys.argv[1], encoding="utf-8").read()
lines = [d for d in re.findall(r'<path class="path" d="(M[^"]*)"', dom) if "L" in d]
labels = re.findall(r'<li class="line[^"]*">.*?<span class="label">(.*?)</span>', dom)
for label in labels:
    print(html.unescape(label))
sys.exit(0 if lines and labels else 1)
EOF
}
