#!/usr/bin/python3
"""A real Prometheus scrapes the obs endpoint; promtool lints a live scrape.

Usage: prometheus_scrape.py <prom_target binary>

Starts the target (known values, ephemeral port), runs `promtool check metrics`
on a live curl of /metrics, starts /usr/bin/prometheus on a free loopback port
with a temporary storage dir and a 1 s scrape interval, waits until the target
is up, then checks the values through /api/v1/query. Everything started is
stopped by PID in `finally`. Exits non-zero with a message on any failure.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from prometheus_api import expect, fail, free_port, http_get, query, scalar, stop  # noqa: E402

DEADLINE = time.monotonic() + 50  # ctest's timeout is 60 s


def read_port(target):
    line = target.stdout.readline().decode().strip()
    if not line.startswith("port "):
        fail("target did not report its port, said: %r" % line)
    return int(line.split()[1])


def main():
    if len(sys.argv) != 2:
        fail("usage: prometheus_scrape.py <prom_target>")
    for tool in ("prometheus", "promtool", "curl"):
        if not shutil.which(tool):
            fail(tool + " not found")
    tmp = tempfile.mkdtemp(prefix="obs-prom-")
    target = prom = None
    try:
        target = subprocess.Popen([sys.argv[1]], stdout=subprocess.PIPE)
        port = read_port(target)
        metrics_url = "http://127.0.0.1:%d/metrics" % port

        # promtool lints the text format of a live scrape.
        scrape = subprocess.run(["curl", "-sSf", metrics_url], capture_output=True, timeout=10)
        if scrape.returncode != 0:
            fail("curl %s: %s" % (metrics_url, scrape.stderr.decode()))
        lint = subprocess.run(["promtool", "check", "metrics"], input=scrape.stdout, capture_output=True,
                              timeout=10)
        if lint.returncode != 0:
            fail("promtool check metrics:\n%s%s" % (lint.stdout.decode(), lint.stderr.decode()))
        print("ok  promtool check metrics on a live scrape (%d bytes)" % len(scrape.stdout))

        prom_port = free_port()
        config = os.path.join(tmp, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: obs\n    static_configs:\n"
                    "      - targets: ['127.0.0.1:%d']\n" % port)
        log = open(os.path.join(tmp, "prometheus.log"), "w")
        prom = subprocess.Popen(["prometheus", "--config.file=" + config,
                                 "--storage.tsdb.path=" + os.path.join(tmp, "data"),
                                 "--web.listen-address=127.0.0.1:%d" % prom_port],
                                stdout=log, stderr=subprocess.STDOUT)

        # Up means Prometheus parsed a scrape without error.
        health = None
        while time.monotonic() < DEADLINE:
            if prom.poll() is not None:
                fail("prometheus exited with %d; log in %s" % (prom.returncode, log.name))
            try:
                _, _, body = http_get("http://127.0.0.1:%d/api/v1/targets" % prom_port)
                active = json.loads(body)["data"]["activeTargets"]
                if active:
                    health = active[0]["health"]
                    if health == "up":
                        break
                    if active[0].get("lastError"):
                        print("target: %s %s" % (health, active[0]["lastError"]))
            except OSError:
                pass
            time.sleep(0.25)
        if health != "up":
            fail("target never came up (last health %r)" % health)
        print("ok  target up")

        # Self-metrics show a scrape from the next one on: wait for Prometheus's
        # own scrapes (served as OpenMetrics, since Prometheus 2.x prefers it).
        om_scrapes = 'obs_http_scrape_duration_seconds_count{format="openmetrics"}'
        while time.monotonic() < DEADLINE and not query(prom_port, om_scrapes):
            time.sleep(0.25)

        expect(prom_port, 'up{job="obs"}', 1)
        expect(prom_port, 'demo_jobs_total{queue="mail"}', 42)
        expect(prom_port, "demo_queue_depth", 7)
        expect(prom_port, "demo_request_duration_seconds_count", 100)
        expect(prom_port, "demo_request_duration_seconds_sum", 10 * 0.05 + 30 * 0.3 + 60 * 0.7, 1e-6)
        expect(prom_port, 'demo_request_duration_seconds_bucket{le="0.5"}', 40)
        # rank 50 falls in (0.5, 1] holding 60: 0.5 + 0.5 * (50 - 40) / 60
        expect(prom_port, "histogram_quantile(0.5, demo_request_duration_seconds_bucket)",
               0.5 + 0.5 * 10 / 60, 1e-9)
        expect(prom_port, "histogram_quantile(0.9, demo_request_duration_seconds_bucket)",
               0.5 + 0.5 * 50 / 60, 1e-9)
        # Prometheus 2.x asks for OpenMetrics first; the endpoint must have obliged.
        if scalar(prom_port, "sum(%s)" % om_scrapes) < 1:
            fail("Prometheus scrapes were not served as OpenMetrics")
        print("ok  Prometheus negotiated OpenMetrics")
        if scalar(prom_port, 'sum(obs_http_requests_total{path="/metrics",code="200"})') < 1:
            fail("self-metrics missing")
        print("ok  self-metrics scraped")
    finally:
        stop(prom)
        stop(target)
        shutil.rmtree(tmp, ignore_errors=True)
    print("PASS")


if __name__ == "__main__":
    main()
