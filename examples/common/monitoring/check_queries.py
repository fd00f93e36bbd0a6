#!/usr/bin/env python3
"""Runs every query of Grafana dashboards and Prometheus rule files through a real Prometheus
that scrapes live /metrics endpoints, and fails if any query errors (or, with --require-data,
finds nothing), so a typo in a dashboard or an alert fails a test instead of a 3 a.m. page.

    check_queries.py --prometheus /usr/bin/prometheus --target 127.0.0.1:9127 \\
        --dashboard examples/pooler/grafana/dashboard.json \\
        --rules examples/pooler/prometheus/alerts/database.rules.yml \\
        --require-data --allow-empty-alerts

It starts Prometheus on a free loopback port with a temporary storage directory, a 1 s scrape
interval over the targets (job --job, default "check"; path --metrics-path, default /metrics)
and the rule files loaded, waits until every target is up and has been scraped --scrapes times
(default 3; all within --timeout seconds, default 60), then runs as instant queries through
/api/v1/query:
  - every dashboard target's expr, and every query variable (label_values(...), query_result(...));
  - every recording and alerting rule's expression (as Prometheus itself parsed it from the files);
  - every --expr EXPR.
Prometheus is always stopped and its directory removed, also on failure, SIGTERM, SIGHUP or
Ctrl-C (exit status 128 + the signal's number). If this script is SIGKILLed (a test timeout),
Prometheus dies with it and the next run removes the directory left behind.

Grafana variables in expressions are replaced before querying: $__rate_interval -> 1m,
$__interval -> 15s, $__range -> 1h (and their _ms/_s forms); a dashboard's own variables by
their allValue, or ".*" for multi-value/"All" variables, or their current value; --var NAME=VALUE
overrides any of them. An unknown variable is a failure.

With --require-data, every query that names a metric must return a non-empty result, and every
selector in it (metric{matchers}) must match at least one series, so a misspelled metric or label
fails even inside an expression that is empty by design. Exceptions:
  --allow-empty SUBSTRING   an expression containing SUBSTRING may return nothing (its selectors
                            must still match series);
  --allow-empty-alerts      the same for every alerting rule (an alert that is quiet is normal);
  --allow-absent SUBSTRING  a selector containing SUBSTRING may match no series (a series the
                            target only exports under load, e.g. 'state="waiting"'); an empty
                            result it explains is then no failure either.
The options repeat.

In a test against a live service: start it, give it some traffic so its counters and histograms
have series, run this script with --target on its metrics address, then stop the service
(tests/run_checker.py does exactly that for obs_demo). Series a service creates only on first use
(an error counter before any error) need --allow-absent, or better, the service creating them at 0.

Exit status: 0 every query passed; 1 some failed (all listed at the end) or a rule file does not
load; 2 bad usage, unreadable files, or Prometheus or a target did not come up.

Standard library only (python3 >= 3.8).
"""

import argparse
import ctypes
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

SCRAPE_INTERVAL = "1s"

# Grafana's built-in interval variables, at values that suit a 1 s scrape.
BUILTIN_VARIABLES = {
    "__rate_interval": "1m",
    "__rate_interval_ms": "60000",
    "__interval": "15s",
    "__interval_ms": "15000",
    "__range": "1h",
    "__range_s": "3600",
    "__range_ms": "3600000",
}

# $name, ${name}, ${name:format}, [[name]], [[name:format]]
VARIABLE = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]|\$(\w+)")


class SetupError(Exception):
    """Something other than a query failed: exit status 2."""


class RulesError(Exception):
    """A rule file did not load (Prometheus stops on it): exit status 1, like a failed query."""


class Query:
    """One expression to run and where it came from."""

    def __init__(self, source, expr, alert=False):
        self.source = source
        self.expr = expr
        self.alert = alert
        self.problems = []


# --- Grafana dashboards -----------------------------------------------------------------------


def dashboard_variables(dashboard, overrides):
    """name -> value for the dashboard's template variables, as substituted into queries."""
    values = {}
    for var in dashboard.get("templating", {}).get("list", []):
        name, kind = var.get("name"), var.get("type")
        if not name:
            continue
        current = var.get("current") or {}
        value = current.get("value")
        if isinstance(value, list):
            value = value[0] if len(value) == 1 else None
        if kind == "datasource":
            values[name] = "prometheus"
        elif kind in ("query", "custom"):
            if var.get("includeAll") or var.get("multi"):
                values[name] = var.get("allValue") or ".*"
            elif isinstance(value, str) and value and value != "$__all":
                values[name] = value
            else:
                values[name] = ".*"
        elif kind == "interval":
            options = [o.get("value") for o in var.get("options", []) if o.get("value")]
            if isinstance(value, str) and value and not value.startswith("$__auto"):
                values[name] = value
            else:
                values[name] = options[0] if options else "1m"
        elif kind in ("constant", "textbox"):
            values[name] = value if isinstance(value, str) and value else str(var.get("query", ""))
    values.update(overrides)
    return values


def substitute(expr, variables):
    """expr with Grafana variables replaced; raises KeyError naming an unknown one."""

    def replace(match):
        name = match.group(1) or match.group(2) or match.group(3)
        if name in variables:
            return variables[name]
        if name in BUILTIN_VARIABLES:
            return BUILTIN_VARIABLES[name]
        raise KeyError(name)

    return VARIABLE.sub(replace, expr)


def walk_panels(panels):
    for panel in panels:
        yield panel
        yield from walk_panels(panel.get("panels", []))


def is_prometheus(datasource):
    """False only for a datasource that is explicitly something else (e.g. Grafana expressions)."""
    if isinstance(datasource, dict):
        kind = datasource.get("type")
        return kind in (None, "", "prometheus") or str(kind).startswith("$")
    return not (isinstance(datasource, str) and datasource.startswith("-- "))  # -- Grafana -- etc.


def variable_query(text):
    """The PromQL a Grafana Prometheus query variable runs, or None if it runs none."""
    text = text.strip()
    match = re.fullmatch(r"label_values\((.*),\s*(\w+)\s*\)", text, re.S)
    if match:
        return "count by (%s) (%s)" % (match.group(2), match.group(1))
    if re.fullmatch(r"label_values\(\s*\w+\s*\)", text):
        return None  # all values of a label: no expression to check
    match = re.fullmatch(r"query_result\((.*)\)", text, re.S)
    if match:
        return match.group(1)
    return None


def dashboard_queries(path, overrides):
    try:
        with open(path, encoding="utf-8") as f:
            dashboard = json.load(f)
    except (OSError, ValueError) as e:
        raise SetupError("cannot read dashboard %s: %s" % (path, e))
    if "dashboard" in dashboard and "panels" not in dashboard:
        dashboard = dashboard["dashboard"]  # an HTTP API payload
    variables = dashboard_variables(dashboard, overrides)
    name = os.path.basename(path)
    queries = []

    def add(source, expr):
        query = Query(source, expr)
        try:
            query.expr = substitute(expr, variables)
        except KeyError as e:
            query.problems.append("unknown Grafana variable $%s" % e.args[0])
        queries.append(query)

    for var in dashboard.get("templating", {}).get("list", []):
        if var.get("type") != "query" or not is_prometheus(var.get("datasource")):
            continue
        text = var.get("query")
        if isinstance(text, dict):
            text = text.get("query", "")
        expr = variable_query(text or "")
        if expr:
            add("%s: variable %s" % (name, var.get("name")), expr)

    for panel in walk_panels(dashboard.get("panels", [])):
        for target in panel.get("targets", []):
            datasource = target.get("datasource", panel.get("datasource"))
            if not is_prometheus(datasource):
                continue
            source = '%s: panel %s "%s" target %s' % (
                name, panel.get("id"), panel.get("title", ""), target.get("refId", "?"))
            expr = target.get("expr", "")
            if not expr.strip():
                query = Query(source, "")
                query.problems.append("target has no expr")
                queries.append(query)
            else:
                add(source, expr)
    return queries


# --- PromQL selectors -------------------------------------------------------------------------

IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
NUMBER = re.compile(r"[0-9.][0-9A-Za-z_.]*")
GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
KEYWORDS = GROUPING | {"bool", "and", "or", "unless", "offset", "atan2", "inf", "nan"}
AGGREGATIONS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
                "bottomk", "topk", "quantile"}


def _string_end(text, i):
    quote, i = text[i], i + 1
    while i < len(text) and text[i] != quote:
        i += 2 if text[i] == "\\" and quote != "`" else 1
    return i + 1


def _tokens(expr):
    """(kind, text) of PromQL's lexemes, coarsely: enough to find the selectors."""
    i, n = 0, len(expr)
    while i < n:
        c = expr[i]
        if c.isspace():
            i += 1
        elif c == "#":
            end = expr.find("\n", i)
            i = n if end < 0 else end
        elif c in "\"'`":
            j = _string_end(expr, i)
            yield "string", expr[i:j]
            i = j
        elif c in "{[":
            close, j = "}" if c == "{" else "]", i + 1
            while j < n and expr[j] != close:
                j = _string_end(expr, j) if expr[j] in "\"'`" else j + 1
            yield ("braces" if c == "{" else "range"), expr[i:j + 1]
            i = j + 1
        elif IDENT.match(expr, i):
            m = IDENT.match(expr, i)
            yield "ident", m.group()
            i = m.end()
        elif c.isdigit() or (c == "." and expr[i + 1:i + 2].isdigit()):
            m = NUMBER.match(expr, i)
            yield "number", m.group()
            i = m.end()
        else:
            yield "op", c
            i += 1


def selectors(expr):
    """The vector selectors an expression names: 'metric', 'metric{...}' or '{...}'."""
    tokens = list(_tokens(expr))
    found = []
    k = 0
    while k < len(tokens):
        kind, text = tokens[k]
        following = tokens[k + 1] if k + 1 < len(tokens) else ("", "")
        if kind == "ident":
            word = text.lower()
            if word in GROUPING and following[1] == "(":
                depth, k = 0, k + 1
                while k < len(tokens):  # skip the label list
                    depth += {"(": 1, ")": -1}.get(tokens[k][1], 0)
                    k += 1
                    if depth == 0:
                        break
                continue
            aggregation = word in AGGREGATIONS and following[1].lower() in ("by", "without")
            if word not in KEYWORDS and following[1] != "(" and not aggregation:
                if following[0] == "braces":
                    found.append(text + following[1])
                    k += 2
                    continue
                found.append(text)
        elif kind == "braces":
            found.append(text)
        k += 1
    return found


def one_line(text):
    return " ".join(text.split())


# --- Prometheus ---------------------------------------------------------------------------------


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent():
    # Linux: if this script is SIGKILLed (a test timeout), Prometheus goes too.
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


DIR_PREFIX = "check_queries."


def remove_stale_dirs():
    """Removes the directories of earlier runs that were SIGKILLed (nothing could clean up)."""
    base = tempfile.gettempdir()
    for name in os.listdir(base):
        if not name.startswith(DIR_PREFIX):
            continue
        path = os.path.join(base, name)
        try:
            with open(os.path.join(path, "owner.pid"), encoding="utf-8") as f:
                owner = int(f.read())
            os.kill(owner, 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except (OSError, ValueError):
            pass  # not ours, unreadable, or the owner is alive


class Prometheus:
    """A Prometheus process of our own, over a temporary directory."""

    def __init__(self, binary, targets, rules, job, metrics_path):
        self.binary = binary
        remove_stale_dirs()
        self.dir = tempfile.mkdtemp(prefix=DIR_PREFIX)
        with open(os.path.join(self.dir, "owner.pid"), "w", encoding="utf-8") as f:
            f.write(str(os.getpid()))
        self.process = None
        self.url = None
        self.log_path = os.path.join(self.dir, "prometheus.log")
        self.config = os.path.join(self.dir, "prometheus.yml")
        config = {  # JSON is YAML
            "global": {"scrape_interval": SCRAPE_INTERVAL, "scrape_timeout": SCRAPE_INTERVAL,
                       "evaluation_interval": SCRAPE_INTERVAL},
            "rule_files": [os.path.abspath(r) for r in rules],
            "scrape_configs": [{"job_name": job, "metrics_path": metrics_path,
                                "static_configs": [{"targets": targets}]}],
        }
        with open(self.config, "w", encoding="utf-8") as f:
            json.dump(config, f, indent=2)

    def start(self, deadline):
        for _ in range(3):  # the free port may be taken before Prometheus binds it
            port = free_port()
            self.url = "http://127.0.0.1:%d" % port
            log = open(self.log_path, "w", encoding="utf-8")
            try:
                self.process = subprocess.Popen(
                    [self.binary, "--config.file=" + self.config,
                     "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
                     "--web.listen-address=127.0.0.1:%d" % port, "--log.level=warn"],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True, preexec_fn=_die_with_parent)
            except OSError as e:
                raise SetupError("cannot run %s: %s" % (self.binary, e))
            finally:
                log.close()
            while time.monotonic() < deadline and self.process.poll() is None:
                try:
                    with urllib.request.urlopen(self.url + "/-/ready", timeout=2) as r:
                        if r.status == 200:
                            return
                except (urllib.error.URLError, OSError):
                    pass
                time.sleep(0.2)
            if self.process.poll() is None:
                raise SetupError("Prometheus was not ready in time:\n" + self.log_tail())
            errors = re.findall(r'msg="loading groups failed" err="(.*)"$', self.log_tail(), re.M)
            if errors:
                raise RulesError("\n".join(e.replace('\\"', '"') for e in errors))
            if "address already in use" not in self.log_tail():
                raise SetupError("Prometheus exited with %d (a rule file that does not load stops it):\n%s"
                                 % (self.process.returncode, self.log_tail()))
        raise SetupError("Prometheus found no free port:\n" + self.log_tail())

    def log_tail(self, lines=20):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def get(self, path, **params):
        """The parsed JSON answer of an API call; errors come back as {"status": "error", ...}."""
        url = self.url + path + ("?" + urllib.parse.urlencode(params) if params else "")
        try:
            with urllib.request.urlopen(url, timeout=30) as r:
                return json.load(r)
        except urllib.error.HTTPError as e:
            try:
                return json.load(e)
            except ValueError:
                return {"status": "error", "errorType": "http", "error": "HTTP %d" % e.code}

    def query(self, expr):
        return self.get("/api/v1/query", query=expr)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def wait_for_scrapes(prom, targets, job, scrapes, deadline):
    """Returns once every target is up and scraped `scrapes` times and every rule group ran."""
    wanted = set(targets)
    while True:
        answer = prom.query('count_over_time(up{job="%s"}[1h]) and up{job="%s"} == 1' % (job, job))
        done = {s["metric"].get("instance"): float(s["value"][1])
                for s in answer.get("data", {}).get("result", [])}
        rules = prom.get("/api/v1/rules").get("data", {}).get("groups", [])
        evaluated = all(not g.get("lastEvaluation", "").startswith("0001-") for g in rules)
        if wanted <= set(done) and min(done[t] for t in wanted) >= scrapes and evaluated:
            return
        if time.monotonic() >= deadline:
            states = prom.get("/api/v1/targets").get("data", {}).get("activeTargets", [])
            lines = ["  %s: %s %s" % (t.get("scrapeUrl"), t.get("health"), t.get("lastError", ""))
                     for t in states]
            raise SetupError("targets not up and scraped %d times in time:\n%s%s" % (
                scrapes, "\n".join(lines), "" if evaluated else "\n  (rule groups not evaluated yet)"))
        time.sleep(0.5)


def rule_queries(prom):
    queries = []
    for group in prom.get("/api/v1/rules").get("data", {}).get("groups", []):
        for rule in group.get("rules", []):
            alert = rule.get("type") == "alerting"
            query = Query("%s: group %s: %s %s" % (
                os.path.basename(group.get("file", "")), group.get("name"),
                "alert" if alert else "record", rule.get("name")), rule.get("query", ""), alert)
            if rule.get("health") == "err":
                query.problems.append("rule evaluation failed: %s" % rule.get("lastError"))
            queries.append(query)
    return queries


# --- Checking ---------------------------------------------------------------------------------


def check(prom, query, args, absent_cache):
    answer = prom.query(query.expr)
    if answer.get("status") != "success":
        query.problems.append("%s: %s" % (answer.get("errorType"), answer.get("error")))
        return 0
    for warning in answer.get("warnings", []):
        query.problems.append("warning: %s" % warning)
    data = answer.get("data", {})
    result = data.get("result")
    count = len(result) if data.get("resultType") in ("vector", "matrix") else 1
    if not args.require_data:
        return count
    named = selectors(query.expr)
    excused = False  # an absent selector that may be absent explains an empty result
    for selector in named:
        if selector not in absent_cache:
            answer = prom.query("count(%s)" % selector)
            absent_cache[selector] = (answer.get("status") == "success"
                                      and not answer.get("data", {}).get("result"))
        if not absent_cache[selector]:
            continue
        if any(s in selector for s in args.allow_absent):
            excused = True
        else:
            query.problems.append("selector %s matches no series (misspelt, or not exported by the "
                                  "targets: --allow-absent SUBSTRING)" % one_line(selector))
    allowed_empty = excused or (query.alert and args.allow_empty_alerts) or any(
        s in query.expr for s in args.allow_empty)
    if named and count == 0 and not allowed_empty:
        query.problems.append("returned no data (--allow-empty SUBSTRING if that is expected)")
    return count


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Run every dashboard and rule query through a real Prometheus scraping live targets.",
        epilog="See the top of this script for details.")
    parser.add_argument("--prometheus", required=True, help="the prometheus binary")
    parser.add_argument("--target", action="append", required=True, metavar="HOST:PORT",
                        help="a live /metrics endpoint (repeatable)")
    parser.add_argument("--dashboard", action="append", default=[], metavar="FILE",
                        help="a Grafana dashboard JSON (repeatable)")
    parser.add_argument("--rules", action="append", default=[], metavar="FILE",
                        help="a Prometheus rule file (repeatable)")
    parser.add_argument("--expr", action="append", default=[], help="an extra expression (repeatable)")
    parser.add_argument("--var", action="append", default=[], metavar="NAME=VALUE",
                        help="a Grafana variable's value (repeatable)")
    parser.add_argument("--require-data", action="store_true",
                        help="fail queries and selectors that find no data")
    parser.add_argument("--allow-empty", action="append", default=[], metavar="SUBSTRING",
                        help="an expression containing SUBSTRING may return nothing (repeatable)")
    parser.add_argument("--allow-empty-alerts", action="store_true",
                        help="alerting rules may return nothing (their selectors must match series)")
    parser.add_argument("--allow-absent", action="append", default=[], metavar="SUBSTRING",
                        help="a selector containing SUBSTRING may match no series (repeatable)")
    parser.add_argument("--job", default="check", help='job label of the targets (default "check")')
    parser.add_argument("--metrics-path", default="/metrics", help="scrape path (default /metrics)")
    parser.add_argument("--scrapes", type=int, default=3, help="scrapes of each target to wait for")
    parser.add_argument("--timeout", type=float, default=60, help="seconds for Prometheus and targets")
    args = parser.parse_args(argv)
    if not (args.dashboard or args.rules or args.expr):
        parser.error("nothing to check: give --dashboard, --rules or --expr")
    overrides = {}
    for item in args.var:
        name, sep, value = item.partition("=")
        if not sep or not name:
            parser.error("--var wants NAME=VALUE, not %r" % item)
        overrides[name] = value
    args.overrides = overrides
    for target in args.target:
        if not re.fullmatch(r"[^\s:/]+:\d+|\[[0-9a-fA-F:]+\]:\d+", target):
            parser.error("--target wants HOST:PORT, not %r" % target)
    return args


def terminate(signum, _frame):
    raise SystemExit(128 + signum)


def main(argv):
    args = parse_args(argv)
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        if signal.getsignal(signum) != signal.SIG_IGN:  # e.g. SIGINT in a background job
            signal.signal(signum, terminate)
    try:
        queries = [q for d in args.dashboard for q in dashboard_queries(d, args.overrides)]
        queries += [Query("--expr", e) for e in args.expr]
        for path in args.rules:
            if not os.path.isfile(path):
                raise SetupError("cannot read rule file %s" % path)
        prom = Prometheus(args.prometheus, args.target, args.rules, args.job, args.metrics_path)
        try:
            started = time.monotonic()
            deadline = started + args.timeout
            prom.start(deadline)
            ready = time.monotonic()
            wait_for_scrapes(prom, args.target, args.job, args.scrapes, deadline)
            print("Prometheus %s ready in %.1f s, targets scraped %d times %.1f s later" % (
                prom.url, ready - started, args.scrapes, time.monotonic() - ready))
            queries += rule_queries(prom)
            absent_cache = {}
            for query in queries:
                count = check(prom, query, args, absent_cache) if not query.problems else 0
                print("%s %s: %s (%d series)" % ("FAIL" if query.problems else "ok  ", query.source,
                                                 one_line(query.expr), count))
        finally:
            prom.stop()
    except SetupError as e:
        print("check_queries: %s" % e, file=sys.stderr)
        return 2
    except RulesError as e:
        print("rule files do not load:\n  %s" % e)
        return 1

    failed = [q for q in queries if q.problems]
    if not failed:
        print("all %d queries passed against %s" % (len(queries), ", ".join(args.target)))
        return 0
    print("\n%d of %d queries failed:" % (len(failed), len(queries)))
    for query in failed:
        print("  %s\n    %s" % (query.source, one_line(query.expr)))
        for problem in query.problems:
            print("    -> %s" % problem)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
