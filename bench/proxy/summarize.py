#!/usr/bin/env python3
"""Summarizes a bench/proxy/run directory: pgbench throughput and latency
percentiles per target, and the proxy's own hit/origin latency quantiles
from its histogram buckets (the delta over the measured run)."""
import json
import math
import re
import sys
from pathlib import Path

work = Path(sys.argv[1])


def tps(name):
    m = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", (work / f"{name}.txt").read_text())
    return float(m.group(1))


def percentiles(name):
    # pgbench -l: client_id transaction_no latency_us script_no epoch epoch_us
    lat = sorted(int(line.split()[2]) for line in (work / f"{name}.log").read_text().splitlines() if line)
    pick = lambda q: lat[min(len(lat) - 1, math.ceil(q * len(lat)) - 1)]
    return pick(0.5), pick(0.99)


def family(doc, name):
    for f in doc["metrics"]:
        if f["name"] == name:
            return f["series"]
    return []


def buckets(doc, source):
    for s in family(doc, "pgcache_query_duration_seconds"):
        if s["labels"].get("source") == source:
            return [(math.inf if isinstance(b["le"], str) else b["le"], b["count"]) for b in s["buckets"]]
    return []


def counter(doc, status):
    for s in family(doc, "pgcache_queries_total"):
        if s["labels"].get("status") == status:
            return s["value"]
    return 0


def quantile(before, after, q):
    # histogram_quantile over the bucket deltas, in microseconds.
    b = dict(before)
    delta = [(le, c - b.get(le, 0)) for le, c in after]
    total = delta[-1][1] if delta else 0
    if total == 0:
        return float("nan")
    rank, lower, below = q * total, 0.0, 0
    for le, c in delta:
        if c >= rank:
            if math.isinf(le):
                return lower * 1e6
            return (lower + (le - lower) * ((rank - below) / (c - below) if c > below else 1)) * 1e6
        lower, below = le, c
    return float("nan")


for mode in ("simple", "prepared"):
    before = json.loads((work / f"before_{mode}.json").read_text())
    after = json.loads((work / f"after_{mode}.json").read_text())
    hits = counter(after, "cache_hit") - counter(before, "cache_hit")
    misses = counter(after, "cache_miss") - counter(before, "cache_miss")
    print(f"== pgbench -S -M {mode}")
    rows = {}
    for target in ("direct", "proxy", "disabled"):
        t = tps(f"{target}_{mode}")
        p50, p99 = percentiles(f"{target}_{mode}")
        rows[target] = t
        print(f"{target:9s} tps {t:10.1f}  client latency p50 {p50:6d} us  p99 {p99:6d} us")
    print(f"proxy hit ratio {hits / max(1, hits + misses):.4f} ({hits:.0f} hits, {misses:.0f} misses)")
    for source in ("cache", "origin"):
        hb, ha = buckets(before, source), buckets(after, source)
        print(f"proxy-side {source:6s} p50 {quantile(hb, ha, 0.5):8.1f} us  p99 {quantile(hb, ha, 0.99):8.1f} us")
    print(f"throughput proxy/direct {rows['proxy'] / rows['direct']:.2f}x; "
          f"instrumented/OBS_DISABLE {rows['proxy'] / rows['disabled']:.3f}")
