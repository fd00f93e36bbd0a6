#!/usr/bin/python3
"""A real Prometheus answers quantiles of an obs native histogram within the schema's error.

Usage: native_quantiles_scrape.py <native_quantiles_target binary>

Two targets (two instances of one service) each serve a registry whose
native histogram (schema 5: buckets 2^(1/32) = 2.2% wide) starts empty.
/usr/bin/prometheus (Debian, 2.42) with --enable-feature=native-histograms,
exemplar-storage scrapes both every second. Once it has scraped the empty
histograms, each target records 20,000 log-normal latencies (different ones);
after two more scrapes:
- histogram_quantile(q, rate(x[1m])) of each instance, for q = 0.5, 0.9, 0.99,
  is within one bucket's width (2.2%) of the exact quantile of the values it
  recorded;
- histogram_quantile(q, sum(rate(x[1m]))) is within the same bound of the
  exact quantile of both instances' values together;
- histogram_count and histogram_sum of the rate agree with the values;
- /api/v1/query_exemplars returns the exemplar recorded with the first value.
Exits non-zero with a message on any failure.
"""
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from prometheus_api import api, fail, free_port, scalar, wait_until  # noqa: E402

BUCKET = 2 ** (1 / 32) - 1  # the relative width of a schema 5 bucket
VALUES = 20000


def exact_quantile(values, q):
    ordered = sorted(values)
    return ordered[max(math.ceil(q * len(ordered)), 1) - 1]


def scrapes(prom, instance):
    """How many scrapes of `instance` Prometheus has stored in the last minute."""
    r = api(prom, "query", query='count_over_time(up{instance="%s"}[1m])' % instance)["result"]
    return int(float(r[0]["value"][1])) if r else 0


def main():
    target_bin = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="obs-native-q-")
    targets, prom = [], None
    try:
        rng = random.Random(26)
        sets = [[rng.lognormvariate(-5, 1.2) for _ in range(VALUES)] for _ in range(2)]
        ports = []
        for i, values in enumerate(sets):
            path = os.path.join(tmp, "values%d.txt" % i)
            with open(path, "w") as f:
                f.write("\n".join(repr(v) for v in values))
            t = subprocess.Popen([target_bin], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            targets.append((t, path))
            line = t.stdout.readline().split()
            if len(line) != 2 or line[0] != "port":
                fail("target said %r" % line)
            ports.append(int(line[1]))
        prom_port = free_port()
        config = os.path.join(tmp, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n"
                    "  - job_name: service\n    static_configs:\n      - targets: [%s]\n"
                    % ", ".join("'127.0.0.1:%d'" % p for p in ports))
        prom = subprocess.Popen(
            ["prometheus", "--config.file=" + config, "--storage.tsdb.path=" + os.path.join(tmp, "data"),
             "--web.listen-address=127.0.0.1:%d" % prom_port,
             "--enable-feature=native-histograms,exemplar-storage", "--log.level=warn"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        instances = ["127.0.0.1:%d" % p for p in ports]
        wait_until("two scrapes of the empty histograms", lambda: all(scrapes(prom_port, i) >= 2 for i in instances),
                   seconds=40, retry_on=(OSError, SystemExit))
        before = {i: scrapes(prom_port, i) for i in instances}
        for t, path in targets:
            t.stdin.write(path + "\n")
            t.stdin.flush()
            if t.stdout.readline().strip() != "recorded":
                fail("a target did not record")
        wait_until("two scrapes after recording", lambda: all(scrapes(prom_port, i) >= before[i] + 2 for i in instances),
                   seconds=40, retry_on=(OSError, SystemExit))

        def check(expr, want, bound, what):
            got = scalar(prom_port, expr)
            if not abs(got - want) <= bound * abs(want):
                fail("%s = %r, want %r within %.2f%% (%s)" % (expr, got, want, bound * 100, what))
            print("ok  %s = %.6g (exact %.6g, %.2f%%)" % (expr, got, want, 100 * abs(got - want) / abs(want)))

        # rate() over the window sees exactly the recorded values; as a
        # rate its count is per second, so compare the distribution.
        for instance, values in zip(instances, sets):
            sel = 'native_latency_seconds{instance="%s"}' % instance
            for q in (0.5, 0.9, 0.99):
                check("histogram_quantile(%s, rate(%s[1m]))" % (q, sel), exact_quantile(values, q), BUCKET,
                      "one instance")
            check("histogram_count(rate(%s[1m])) / histogram_sum(rate(%s[1m]))" % (sel, sel),
                  len(values) / sum(values), 1e-9, "count over sum")
        both = sets[0] + sets[1]
        for q in (0.5, 0.9, 0.99):
            check("histogram_quantile(%s, sum(rate(native_latency_seconds[1m])))" % q, exact_quantile(both, q),
                  BUCKET, "two instances summed")
        now = time.time()
        found = api(prom_port, "query_exemplars", query="native_latency_seconds", start=str(now - 300),
                    end=str(now + 60))
        traces = {e["labels"].get("trace_id") for s in found for e in s["exemplars"]}
        if "4bf92f3577b34da6a3ce929d0e0e4736" not in traces:
            fail("exemplars: %s" % found)
        print("ok  the recorded exemplar is in query_exemplars")
        print("PASS")
    finally:
        for t, _ in targets:
            if t.poll() is None:
                t.stdin.close()
                t.wait(timeout=10)
        if prom and prom.poll() is None:
            prom.terminate()
            prom.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
