#!/usr/bin/python3
"""A real Prometheus reads native histograms and exemplars from obs over protobuf.

Usage: prometheus_protobuf_scrape.py <prom_protobuf_target binary>

The target serves one snapshot (every type, a native histogram, exemplars) on
two ports: one offering the protobuf format, one only the text formats.
/usr/bin/prometheus (Debian, 2.42) started with
--enable-feature=native-histograms,exemplar-storage scrapes both, as jobs
"proto" and "text", and the protobuf one again as "proto_again", every
second. Then, through its HTTP API:
- the "proto" job was served protobuf (the Content-Type its scrape got is
  checked by fetching with Prometheus's Accept header), and both targets are up;
- every series of the "text" job (OpenMetrics) has a twin in the "proto" job
  with the same labels and value, and no other series exist there, but for
  the native histogram, which text exposes as classic `_bucket{le="+Inf"}`,
  `_count` and `_sum` and protobuf as one native series;
- histogram_quantile, histogram_count and histogram_sum over the native
  series give the values its buckets imply, and over the sum of the two
  protobuf jobs' series too;
- /api/v1/query_exemplars returns the exemplars of the counter, of the
  classic buckets and of the native histogram from the protobuf scrape, as
  from the OpenMetrics one.
Everything started is stopped by PID in `finally`. Exits non-zero with a
message on any failure.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from prometheus_api import api, expect, fail, free_port, http_get, query, stop  # noqa: E402

DEADLINE = time.monotonic() + 80  # ctest's timeout is 90 s

PROTOBUF_ACCEPT = ("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,"
                   "application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;"
                   "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
PROTOBUF_TYPE = "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
NATIVE = "demo_native_seconds"
MIXED = "demo_mixed_seconds"  # native, with classic buckets too


def series_of(prom, job):
    """{labels without job/instance: value} of a job's scraped series."""
    out = {}
    for r in query(prom, '{job="%s",__name__!~"up|scrape_.*"}' % job):
        labels = {k: v for k, v in r["metric"].items() if k not in ("job", "instance")}
        key = tuple(sorted(labels.items()))
        out[key] = r.get("value", [None, None])[1] if "value" in r else ("histogram", r.get("histogram"))
    return out


def main():
    if len(sys.argv) != 2:
        fail("usage: prometheus_protobuf_scrape.py <prom_protobuf_target>")
    if not shutil.which("prometheus"):
        fail("prometheus not found")
    tmp = tempfile.mkdtemp(prefix="obs-prom-pb-")
    target = prom = None
    try:
        target = subprocess.Popen([sys.argv[1]], stdout=subprocess.PIPE)
        line = target.stdout.readline().decode().split()
        if len(line) != 3 or line[0] != "ports":
            fail("target did not report its ports, said: %r" % line)
        proto_port, text_port = int(line[1]), int(line[2])

        # What each endpoint answers Prometheus's protobuf Accept header.
        _, headers, _ = http_get("http://127.0.0.1:%d/metrics" % proto_port, {"Accept": PROTOBUF_ACCEPT})
        if headers["Content-Type"] != PROTOBUF_TYPE:
            fail("protobuf endpoint answered %s" % headers["Content-Type"])
        _, headers, _ = http_get("http://127.0.0.1:%d/metrics" % text_port, {"Accept": PROTOBUF_ACCEPT})
        if not headers["Content-Type"].startswith("application/openmetrics-text"):
            fail("text endpoint answered %s" % headers["Content-Type"])
        print("ok  negotiation: protobuf on :%d, OpenMetrics on :%d" % (proto_port, text_port))

        prom_port = free_port()
        config = os.path.join(tmp, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n"
                    "  - job_name: proto\n    static_configs:\n      - targets: ['127.0.0.1:%d']\n"
                    "  - job_name: text\n    static_configs:\n      - targets: ['127.0.0.1:%d']\n"
                    "  - job_name: proto_again\n    static_configs:\n      - targets: ['127.0.0.1:%d']\n"
                    % (proto_port, text_port, proto_port))
        log = open(os.path.join(tmp, "prometheus.log"), "w")
        prom = subprocess.Popen(["prometheus", "--config.file=" + config,
                                 "--storage.tsdb.path=" + os.path.join(tmp, "data"),
                                 "--web.listen-address=127.0.0.1:%d" % prom_port,
                                 "--enable-feature=native-histograms,exemplar-storage"],
                                stdout=log, stderr=subprocess.STDOUT)

        # Both targets up, and each scraped at least twice.
        while True:
            if time.monotonic() > DEADLINE:
                fail("targets never came up; log in %s" % log.name)
            if prom.poll() is not None:
                fail("prometheus exited with %d; log in %s" % (prom.returncode, log.name))
            try:
                active = api(prom_port, "targets")["activeTargets"]
                if len(active) == 3 and all(t["health"] == "up" for t in active):
                    if len(query(prom_port, 'count_over_time(up[1m]) >= 2')) == 3:
                        break
                for t in active:
                    if t.get("lastError"):
                        print("target %s: %s %s" % (t["labels"]["job"], t["health"], t["lastError"]))
            except (OSError, SystemExit):
                pass
            time.sleep(0.25)
        print("ok  all three targets up")

        # Every series of the OpenMetrics scrape is in the protobuf scrape,
        # with the same value; the native histogram apart.
        text = series_of(prom_port, "text")
        proto = series_of(prom_port, "proto")
        is_native = lambda key: dict(key)["__name__"].startswith((NATIVE, MIXED))
        text_rest = {k: v for k, v in text.items() if not is_native(k)}
        proto_rest = {k: v for k, v in proto.items() if not is_native(k)}
        if text_rest != proto_rest:
            fail("series differ:\n only text:  %s\n only proto: %s\n values: %s" % (
                sorted(text_rest.keys() - proto_rest.keys()), sorted(proto_rest.keys() - text_rest.keys()),
                {k: (text_rest[k], proto_rest[k]) for k in text_rest.keys() & proto_rest.keys()
                 if text_rest[k] != proto_rest[k]}))
        print("ok  %d series read back with equal values over protobuf and OpenMetrics" % len(text_rest))
        native_text = sorted(dict(k)["__name__"] for k in text if dict(k)["__name__"].startswith(NATIVE))
        native_proto = sorted(dict(k)["__name__"] for k in proto if is_native(k))
        if native_text != [NATIVE + "_bucket", NATIVE + "_count", NATIVE + "_sum"]:
            fail("text scrape of the native histogram: %s" % native_text)
        mixed_text = sorted(dict(k).get("le", dict(k)["__name__"]) for k in text
                            if dict(k)["__name__"].startswith(MIXED))
        if mixed_text != ["+Inf", "0.5", "1.0", "2.0", MIXED + "_count", MIXED + "_sum"]:
            fail("text scrape of the native histogram with classic buckets: %s" % mixed_text)
        # Prometheus 2.42 stores a native histogram as its native series only,
        # its classic buckets, _count and _sum dropped (scrape_classic_histograms
        # came in 2.45).
        if native_proto != [MIXED, NATIVE]:
            fail("protobuf scrape of the native histograms: %s" % native_proto)
        print("ok  native histograms: one native series each over protobuf, classic buckets over text")

        # The native series' buckets, from the numbers the target wrote.
        native = '%s{job="proto"}' % NATIVE
        expect(prom_port, "histogram_count(%s)" % native, 12)
        expect(prom_port, "histogram_sum(%s)" % native, 33)
        # rank 6 of 12: (-2,-1] holds 2, zero 2, (1,2] 4: 1 + 1 * (6 - 4) / 4
        expect(prom_port, "histogram_quantile(0.5, %s)" % native, 1.5)
        # rank 10.8: (2,4] ends at 10, (8,16] holds 2: 8 + 8 * 0.8 / 2
        expect(prom_port, "histogram_quantile(0.9, %s)" % native, 11.2)
        # rank 1.2, in (-2,-1] holding 2: -2 + 1 * 1.2 / 2
        expect(prom_port, "histogram_quantile(0.1, %s)" % native, -1.4)
        expect(prom_port, "histogram_quantile(0.5, demo_request_duration_seconds_bucket{job=\"proto\"})",
               0.5 + 0.5 * 10 / 60)
        expect(prom_port, 'histogram_quantile(0.5, %s{job="proto"})' % MIXED, 1.5)
        # Over text, the same histogram's classic buckets: rank 6 in (1, 2] holding 4.
        expect(prom_port, 'histogram_quantile(0.5, %s_bucket{job="text"})' % MIXED, 1.5)

        # Native histograms aggregate across instances: the same endpoint
        # scraped as a second job doubles every bucket, and keeps the quantiles.
        both = 'sum(%s{job=~"proto|proto_again"})' % NATIVE
        expect(prom_port, "histogram_count(%s)" % both, 24)
        expect(prom_port, "histogram_sum(%s)" % both, 66)
        expect(prom_port, "histogram_quantile(0.5, %s)" % both, 1.5)
        expect(prom_port, "histogram_quantile(0.9, %s)" % both, 11.2)

        # Exemplars, as each job stored them.
        now = time.time()
        found = {}
        for job in ("proto", "text"):
            data = api(prom_port, "query_exemplars", query='{job="%s"}' % job, start=now - 600, end=now + 60)
            got = set()
            for series in data:
                name = series["seriesLabels"]["__name__"]
                le = series["seriesLabels"].get("le")
                for e in series["exemplars"]:
                    got.add((name, le, e["labels"].get("trace_id"), float(e["value"])))
            found[job] = got
            print("    %s exemplars: %s" % (job, sorted(got, key=str)))
        want = {("demo_orders_total", None, "c0ffee", 1.0),
                ("demo_request_duration_seconds_bucket", "0.1", "fa57", 0.05),
                ("demo_request_duration_seconds_bucket", "1.0", "5104", 0.7)}
        for job in ("proto", "text"):
            if not want <= found[job]:
                fail("%s exemplars: missing %s" % (job, sorted(want - found[job], key=str)))
        print("ok  query_exemplars returns the counter's and the classic buckets' exemplars over both")
        # The native histogram's exemplar rides on an explicit +Inf bucket (it
        # has no classic ones); Prometheus 2.42 reads a native histogram's
        # exemplar from its classic buckets and stores it on the native series.
        if (NATIVE, None, "4a71", 1.5) not in found["proto"]:
            fail("native histogram exemplar missing over protobuf: %s" % sorted(found["proto"], key=str))
        if (NATIVE + "_bucket", "+Inf", "4a71", 1.5) not in found["text"]:
            fail("native histogram exemplar missing over OpenMetrics: %s" % sorted(found["text"], key=str))
        print("ok  the native histogram's exemplar: on the native series over protobuf, on le=+Inf over text")
    finally:
        stop(prom)
        stop(target)
        shutil.rmtree(tmp, ignore_errors=True)
    print("PASS")


if __name__ == "__main__":
    main()
