#!/usr/bin/env python3
"""Checks that Grafana dashboard JSON files are importable dashboards built the way ours are:

    check_dashboard.py examples/pooler/grafana/dashboard.json [more.json ...]

- the top-level dashboard model (not the HTTP API payload {"dashboard": ...}), with a title and a
  uid (1-40 of A-Z a-z 0-9 - _) and schemaVersion >= 36;
- a template variable of type "datasource" for Prometheus, and every panel, target and query
  variable takes its datasource from such a variable ({"type": "prometheus", "uid": "${name}"});
- unique integer panel ids (rows' nested panels included) and a gridPos within the 24 columns;
- every panel that shows data has targets; every target has a refId, unique in its panel, and an
  expr, whose Grafana variables ($name, ${name}, [[name]]) are all defined;
- graph-like panels (timeseries, stat, gauge, bargauge) set a unit, heatmaps a y-axis unit.

Prints each problem and exits 1 if there is any, 0 otherwise; 2 for a file it cannot read.
Whether the expressions are valid PromQL, and find data, is check_queries.py's job.
Standard library only.
"""

import json
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from check_queries import BUILTIN_VARIABLES, VARIABLE, walk_panels  # noqa: E402

NO_QUERIES = {"row", "text", "news", "dashlist", "alertlist", "annolist", "welcome"}
NEED_UNIT = {"timeseries", "stat", "gauge", "bargauge"}
UID = re.compile(r"[A-Za-z0-9_-]{1,40}")


def lint(dashboard):
    """The problems of one dashboard model, as strings."""
    problems = []
    if "dashboard" in dashboard and "panels" not in dashboard:
        return ['this is the HTTP API payload {"dashboard": ...}: save the dashboard model itself']
    if not isinstance(dashboard.get("title"), str) or not dashboard["title"].strip():
        problems.append("no title")
    if not isinstance(dashboard.get("uid"), str) or not UID.fullmatch(dashboard["uid"]):
        problems.append("uid %r is not 1-40 characters of A-Z a-z 0-9 - _" % dashboard.get("uid"))
    schema = dashboard.get("schemaVersion")
    if not isinstance(schema, int) or schema < 36:
        problems.append("schemaVersion %r is not >= 36" % schema)

    variables = dashboard.get("templating", {}).get("list", [])
    names = {v.get("name") for v in variables}
    sources = {v.get("name") for v in variables
               if v.get("type") == "datasource" and v.get("query") == "prometheus"}
    if not sources:
        problems.append('no template variable of type "datasource" with query "prometheus"')

    def check_datasource(where, datasource):
        wanted = ["${%s}" % s for s in sorted(sources)]
        if not (isinstance(datasource, dict) and datasource.get("type") == "prometheus"
                and datasource.get("uid") in wanted):
            problems.append('%s: datasource %s is not {"type": "prometheus", "uid": %s}' % (
                where, json.dumps(datasource), " or ".join(json.dumps(w) for w in wanted) or "..."))

    def check_variables(where, expr):
        for match in VARIABLE.finditer(expr):
            name = match.group(1) or match.group(2) or match.group(3)
            if name not in names and name not in BUILTIN_VARIABLES:
                problems.append("%s: unknown variable $%s" % (where, name))

    for var in variables:
        if var.get("type") == "query":
            where = "variable %s" % var.get("name")
            check_datasource(where, var.get("datasource"))
            query = var.get("query")
            check_variables(where, query.get("query", "") if isinstance(query, dict) else str(query))

    ids = {}
    for panel in walk_panels(dashboard.get("panels", [])):
        kind = panel.get("type")
        where = 'panel %s "%s"' % (panel.get("id"), panel.get("title", ""))
        pid = panel.get("id")
        if not isinstance(pid, int) or isinstance(pid, bool):
            problems.append("%s: id is not an integer" % where)
        elif pid in ids:
            problems.append("%s: id %d is also panel \"%s\"'s" % (where, pid, ids[pid]))
        else:
            ids[pid] = panel.get("title", "")
        grid = panel.get("gridPos", {})
        if not all(isinstance(grid.get(k), int) for k in ("h", "w", "x", "y")) \
                or grid["w"] < 1 or grid["x"] < 0 or grid["x"] + grid["w"] > 24:
            problems.append("%s: gridPos %s is not h, w, x, y within 24 columns" % (where, json.dumps(grid)))
        if kind in NO_QUERIES:
            continue
        if "datasource" in panel:
            check_datasource(where, panel["datasource"])
        targets = panel.get("targets", [])
        if not targets:
            problems.append("%s: no targets" % where)
        refs = set()
        for target in targets:
            ref = target.get("refId")
            at = "%s target %s" % (where, ref)
            if not isinstance(ref, str) or not ref:
                problems.append("%s: no refId" % at)
            elif ref in refs:
                problems.append("%s: refId used twice" % at)
            refs.add(ref)
            check_datasource(at, target.get("datasource"))
            expr = target.get("expr")
            if not isinstance(expr, str) or not expr.strip():
                problems.append("%s: no expr" % at)
            else:
                check_variables(at, expr)
        if kind in NEED_UNIT and not panel.get("fieldConfig", {}).get("defaults", {}).get("unit"):
            problems.append("%s: no unit (fieldConfig.defaults.unit)" % where)
        if kind == "heatmap" and not panel.get("options", {}).get("yAxis", {}).get("unit"):
            problems.append("%s: no y-axis unit (options.yAxis.unit)" % where)
    if not ids:
        problems.append("no panels")
    return problems


def main(paths):
    if not paths:
        print("usage: check_dashboard.py DASHBOARD.json...", file=sys.stderr)
        return 2
    status = 0
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                dashboard = json.load(f)
        except (OSError, ValueError) as e:
            print("%s: cannot read: %s" % (path, e), file=sys.stderr)
            return 2
        if not isinstance(dashboard, dict):
            print("%s: not a JSON object" % path)
            status = 1
            continue
        problems = lint(dashboard)
        for problem in problems:
            print("%s: %s" % (path, problem))
        if problems:
            status = 1
        else:
            panels = list(walk_panels(dashboard.get("panels", [])))
            print("%s: ok (%d panels, %d targets)" % (
                path, len(panels), sum(len(p.get("targets", [])) for p in panels)))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
