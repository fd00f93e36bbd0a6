#!/usr/bin/python3
"""obs::remote_write against the receivers Debian ships, and under faults.

Usage: receivers_test.py <push_target binary>

Starts on loopback, each on a free port with its own data directory:
/usr/bin/prometheus (2.42) with --web.enable-remote-write-receiver and
--enable-feature=native-histograms,exemplar-storage, and /usr/bin/victoria-metrics
(1.79). Then:
- every type: `push_target once` pushes one registry; every sample of the
  text exposition it prints is in each receiver with the same labels and value
  (plus the external labels job and instance), the native histogram reads back
  in Prometheus (histogram_count, histogram_sum), and Prometheus returns the
  counter's and buckets' exemplars;
- an outage: Prometheus is stopped for OUTAGE seconds while `push_target ticks`
  increments and pushes a counter; once it is back, every value of the counter
  is stored (nothing lost within the queue bound), and nothing counted dropped;
- a queue bound: the same with room for three pushes: the pushes that did not
  fit are missing, and the dropped counter says exactly how many samples;
- refusals: a receiver that answers 400 gets each request once, no retries,
  and the samples are counted failed;
- a 5xx storm: a receiver that answers 503 to the first requests gets them
  again after growing waits (the backoff), then nothing is lost;
- memory: with the receiver gone, 20,000 series pushed every 50 ms for 16 s
  into a queue of 4 MiB: once the queue is full the process's resident memory
  stays where it is (within 8 MiB), the sends keep being retried, and the
  drops are counted (the memory figure is not checked under sanitizers,
  OBS_SANITIZED=1, which keep freed memory back);
- TLS: Prometheus serving https with a certificate made for the test takes
  every series from a pusher that trusts that certificate (OBS_PUSH_CA_FILE);
  a pusher that trusts only the system's authorities sends nothing.
Everything started is stopped in `finally`. Exits non-zero on any failure.
"""
import http.server
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from prometheus_api import fail, free_port, wait_until  # noqa: E402

OUTAGE = int(os.environ.get("OBS_REMOTE_WRITE_OUTAGE", "30"))


def get_json(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


class Prometheus:
    def __init__(self, work, tls=None):
        os.makedirs(work, exist_ok=True)
        self.port = free_port()
        self.data = os.path.join(work, "prometheus")
        self.config = os.path.join(work, "prometheus.yml")
        with open(self.config, "w") as f:
            f.write("global:\n  scrape_interval: 1h\n")
        self.tls = tls  # (cert, key) to serve https with
        self.scheme = "https" if tls else "http"
        self.context = ssl.create_default_context(cafile=tls[0]) if tls else None
        self.proc = None

    def start(self):
        args = ["/usr/bin/prometheus", f"--config.file={self.config}", f"--storage.tsdb.path={self.data}",
                f"--web.listen-address=127.0.0.1:{self.port}", "--web.enable-remote-write-receiver",
                "--enable-feature=native-histograms,exemplar-storage"]
        if self.tls:
            web = self.config + ".web.yml"
            with open(web, "w") as f:
                f.write(f"tls_server_config:\n  cert_file: {self.tls[0]}\n  key_file: {self.tls[1]}\n")
            args.append(f"--web.config.file={web}")
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until("prometheus to be ready",
                   lambda: self.open(f"{self.base()}/-/ready").status == 200)

    def base(self):
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def open(self, url):
        return urllib.request.urlopen(url, timeout=5, context=self.context)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)

    def url(self):
        return f"{self.base()}/api/v1/write"

    def query(self, promql, at=None):
        params = {"query": promql}
        if at is not None:
            params["time"] = str(at)
        with self.open(f"{self.base()}/api/v1/query?" + urllib.parse.urlencode(params)) as r:
            return json.loads(r.read())["data"]["result"]

    def series(self):
        """Every sample of job obs_push_test, as {(name, labels...): value}."""
        out = {}
        for r in self.query('{job="obs_push_test"}'):
            if "value" in r:
                out[key_of(r["metric"])] = float(r["value"][1])
        return out


class Victoria:
    def __init__(self, work):
        self.port = free_port()
        self.data = os.path.join(work, "victoria")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            ["/usr/bin/victoria-metrics", f"-storageDataPath={self.data}", f"-httpListenAddr=127.0.0.1:{self.port}",
             "-search.disableCache", "-search.latencyOffset=0s"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until("victoria-metrics to be ready",
                   lambda: urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=1).status == 200)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)

    def url(self):
        return f"http://127.0.0.1:{self.port}/api/v1/write"

    def series(self):
        out = {}
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/v1/export?"
                                    + urllib.parse.urlencode({"match[]": '{job="obs_push_test"}'}), timeout=5) as r:
            for line in r.read().decode().splitlines():
                row = json.loads(line)
                out[key_of(row["metric"])] = float(row["values"][-1])
        return out


def key_of(labels):
    labels = dict(labels)
    name = labels.pop("__name__")
    return (name,) + tuple(sorted(labels.items()))


def parse_text(text):
    """The samples of a Prometheus text exposition, as key_of keys."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, value = line.rsplit(" ", 1)
        labels = {}
        name = head
        if "{" in head:
            name, rest = head.split("{", 1)
            for part in rest.rstrip("}").split(","):  # no test label value holds a comma or quote
                if part:
                    k, v = part.split("=", 1)
                    labels[k] = v.strip('"')
        labels.update({"job": "obs_push_test", "instance": "push_target"})
        labels["__name__"] = name
        out[key_of(labels)] = float(value)
    return out


def check_every_type(target, receiver, native):
    args = [target, "once", receiver.url()] + (["native"] if native else [])
    text = subprocess.run(args, check=True, capture_output=True, text=True, timeout=60).stdout
    expected = {k: v for k, v in parse_text(text).items() if not k[0].startswith("obs_")}
    if native:  # sent as a native series, which Prometheus 2.42 keeps alone
        expected = {k: v for k, v in expected.items() if not k[0].startswith("push_native_seconds")}
    name = type(receiver).__name__
    got = {}

    def arrived():
        nonlocal got
        got = receiver.series()
        return all(k in got for k in expected)

    wait_until(f"{name} to hold every pushed series", arrived)
    for k, v in expected.items():
        # VictoriaMetrics stores floats as decimals of 12 to 15 digits.
        if abs(got[k] - v) > 1e-12 * max(1.0, abs(v)):
            fail(f"{name}: {k} is {got[k]}, the scrape says {v}")
    print(f"{name}: {len(expected)} series, every value as the text exposition has it")


def check_prometheus_extras(prom):
    count = prom.query('histogram_count(push_native_seconds{job="obs_push_test"})')
    total = prom.query('histogram_sum(push_native_seconds{job="obs_push_test"})')
    if not count or float(count[0]["value"][1]) != 7:
        fail(f"native histogram count: {count}")
    if not total or abs(float(total[0]["value"][1]) - 4.265) > 1e-9:
        fail(f"native histogram sum: {total}")
    now = time.time()
    params = urllib.parse.urlencode({"query": '{job="obs_push_test"}', "start": str(now - 600), "end": str(now + 60)})
    found = get_json(f"http://127.0.0.1:{prom.port}/api/v1/query_exemplars?" + params)["data"]
    names = {r["seriesLabels"]["__name__"] for r in found}
    if not {"push_jobs_total", "push_latency_seconds_bucket"} <= names:
        fail(f"exemplars: {found}")
    print("Prometheus: native histogram count and sum, and exemplars of counters and buckets, read back")


def run_ticks(target, url, ticks, tick_ms, max_queue_samples=0, during=None):
    args = [target, "ticks", url, str(ticks), str(tick_ms)] + ([str(max_queue_samples)] if max_queue_samples else [])
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    if during:
        during()
    out, _ = proc.communicate(timeout=120)
    if proc.returncode != 0:
        fail(f"push_target ticks exited {proc.returncode}")
    return {k: int(v) for k, v in (line.split() for line in out.splitlines())}


def stored_ticks(prom):
    result = prom.query('ticks_total{job="obs_push_test"}[1h]')
    return sorted({int(float(v)) for r in result for _, v in r["values"]})


def check_outage(target, work):
    prom = Prometheus(work)
    prom.start()
    ticks, tick_ms = 20 + OUTAGE * 4, 250

    def outage():
        time.sleep(2)
        prom.stop()
        time.sleep(OUTAGE)
        prom.start()

    try:
        stats = run_ticks(target, prom.url(), ticks, tick_ms, during=outage)
        values = stored_ticks(prom)
    finally:
        prom.stop()
    if values != list(range(ticks + 1)):
        missing = sorted(set(range(ticks + 1)) - set(values))
        fail(f"after a {OUTAGE} s outage, missing tick values {missing}; stats {stats}")
    if stats["dropped"] or stats["failed"] or not stats["retries"]:
        fail(f"outage stats: {stats}")
    print(f"outage of {OUTAGE} s: all {ticks + 1} pushes stored, {stats['retries']} retries, nothing dropped")


def check_queue_bound(target, work):
    prom = Prometheus(os.path.join(work, "bound"))
    prom.start()
    ticks, tick_ms = 30, 200

    def outage():
        time.sleep(1)
        prom.stop()
        time.sleep(3)
        prom.start()

    try:
        # Room for three pushes: found from a run without an outage.
        per_push = run_ticks(target, prom.url(), 1, 10)["samples_per_push"]
        stats = run_ticks(target, prom.url(), ticks, tick_ms, max_queue_samples=3 * per_push, during=outage)
        values = stored_ticks(prom)
    finally:
        prom.stop()
    missing = set(range(ticks + 1)) - set(values)
    if not missing:
        fail(f"a 3-push queue lost nothing over a 3 s outage at 5 pushes a second: {stats}")
    if stats["dropped"] != len(missing) * stats["samples_per_push"]:
        fail(f"dropped {stats['dropped']} samples, but {len(missing)} pushes of {stats['samples_per_push']} are missing")
    print(f"queue bound: {len(missing)} pushes dropped, counted exactly ({stats['dropped']} samples)")


class FaultReceiver(http.server.BaseHTTPRequestHandler):
    statuses = []  # answers for the first requests, then 204
    seen = []  # (monotonic time, status) of each request

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        n = len(FaultReceiver.seen)
        status = FaultReceiver.statuses[n] if n < len(FaultReceiver.statuses) else 204
        FaultReceiver.seen.append((time.monotonic(), status, self.headers.get("Content-Encoding"),
                                   self.headers.get("X-Prometheus-Remote-Write-Version")))
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def with_fault_receiver(statuses, run):
    FaultReceiver.statuses, FaultReceiver.seen = statuses, []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FaultReceiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        return run(f"http://127.0.0.1:{server.server_address[1]}/api/v1/write")
    finally:
        server.shutdown()


def check_refusal(target):
    stats = with_fault_receiver([400] * 100, lambda url: run_ticks(target, url, 3, 100))
    pushes = 3 + 2
    if len(FaultReceiver.seen) != pushes or stats["retries"] or stats["sent"]:
        fail(f"400s: {len(FaultReceiver.seen)} requests for {pushes} pushes, stats {stats}")
    if stats["failed"] != pushes * stats["samples_per_push"]:
        fail(f"400s: failed {stats['failed']}, expected {pushes * stats['samples_per_push']}")
    if any(enc != "snappy" or version != "0.1.0" for _, _, enc, version in FaultReceiver.seen):
        fail(f"headers: {FaultReceiver.seen}")
    print(f"400: {pushes} requests, none retried, {stats['failed']} samples counted failed")


def check_storm(target):
    storm = 6
    stats = with_fault_receiver([503] * storm, lambda url: run_ticks(target, url, 1, 10))
    times = [t for t, _, _, _ in FaultReceiver.seen]
    gaps = [b - a for a, b in zip(times, times[1:storm + 1])]
    # Waits are drawn from [b/2, b] with b doubling from 50 ms up to 800 ms.
    if stats["retries"] != storm or stats["dropped"] or stats["failed"]:
        fail(f"503 storm: stats {stats}")
    if not (gaps[-1] > 2 * gaps[0] and sum(gaps) > 0.5):
        fail(f"503 storm: no backoff in the gaps {gaps}")
    print(f"503 storm: {storm} retries after waits of {[round(g, 3) for g in gaps]} s, then all sent")


def check_tls(target, work):
    cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    prom = Prometheus(os.path.join(work, "tls"), tls=(cert, key))
    prom.start()
    try:
        os.environ["OBS_PUSH_CA_FILE"] = cert
        try:
            check_every_type(target, prom, native=True)
        finally:
            del os.environ["OBS_PUSH_CA_FILE"]
        # Trusting only the system's authorities, the handshake fails: nothing is sent, all retried.
        os.environ["OBS_PUSH_SHUTDOWN_MS"] = "1000"
        try:
            stats = run_ticks(target, prom.url(), 1, 10)
        finally:
            del os.environ["OBS_PUSH_SHUTDOWN_MS"]
        if stats["sent"] or not stats["retries"] or not stats["dropped"]:
            fail(f"an untrusted certificate: {stats}")
        print(f"TLS: an untrusted certificate got nothing, {stats['retries']} retries, {stats['dropped']} dropped at exit")
    finally:
        prom.stop()


def rss_bytes(pid):
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def check_bounded_memory(target):
    closed = f"http://127.0.0.1:{free_port()}/api/v1/write"  # nothing listens there
    queue = 4 << 20
    proc = subprocess.Popen([target, "hold", closed, "16", "20000", str(queue)], stdout=subprocess.PIPE, text=True)
    samples = []
    while proc.poll() is None:
        try:
            samples.append((time.monotonic(), rss_bytes(proc.pid)))
        except OSError:
            break
        time.sleep(0.2)
    out, _ = proc.communicate(timeout=30)
    stats = {k: int(v) for k, v in (line.split() for line in out.splitlines())}
    start = samples[0][0]

    def peak(lo, hi):
        return max(rss for t, rss in samples if lo <= t - start < hi)

    # The queue fills within a second; the snapshots', encoder's and
    # allocator's working memory settles within a few. After that it stays.
    settled, later = peak(5, 9), peak(9, 15)
    if not stats["dropped"] or stats["sent"] or stats["retries"] < 5:
        fail(f"bounded memory: {stats}")
    # Sanitizers hold freed memory back (ASan's quarantine), so resident memory says nothing there.
    if later - settled > (8 << 20) and not os.environ.get("OBS_SANITIZED"):
        fail(f"resident memory grew from {settled >> 20} to {later >> 20} MiB with the receiver gone "
             f"(queue bound 4 MiB)")
    print(f"receiver gone for 16 s: resident memory {settled / (1 << 20):.1f} MiB at 5-9 s, "
          f"{later / (1 << 20):.1f} MiB at 9-15 s; {stats['retries']} retries, {stats['dropped']} samples dropped")


def main():
    target = sys.argv[1]
    work = tempfile.mkdtemp(prefix="obs_remote_write_")
    prom, victoria = Prometheus(work), Victoria(work)
    try:
        prom.start()
        victoria.start()
        check_every_type(target, prom, native=True)
        check_prometheus_extras(prom)
        check_every_type(target, victoria, native=False)
        prom.stop()
        victoria.stop()
        check_bounded_memory(target)
        check_tls(target, work)
        check_refusal(target)
        check_storm(target)
        check_queue_bound(target, work)
        check_outage(target, os.path.join(work, "outage"))
    finally:
        prom.stop()
        victoria.stop()
        shutil.rmtree(work, ignore_errors=True)
    print("PASS")


if __name__ == "__main__":
    main()
