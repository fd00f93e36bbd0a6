"""Shared helpers of the redis_gateway end-to-end scenarios: start the gateway
against the PostgreSQL and Redis that tests/run starts, talk HTTP to it, read
its metrics, and clean up what a scenario created (its schema, its Redis keys).
"""
import http.client
import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time

DEADLINE = 60.0  # generous: ASan on a loaded 2-core machine


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def env(name):
    v = os.environ.get(name)
    if not v:
        fail(f"environment variable {name} is not set (tests/run exports it)")
    return v


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def poll(pred, what, timeout=DEADLINE, interval=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    fail(f"timed out waiting for {what}")


def suffix():
    return f"{os.getpid()}_{random.randrange(1 << 30):x}"


class Gateway:
    """A redis_gateway process on an ephemeral port with its own schema."""

    def __init__(self, binary, pg_url, schema, extra=(), admin="admin-" + suffix()):
        self.admin = admin
        self.schema = schema
        self.pg_url = pg_url
        self.stderr = tempfile.NamedTemporaryFile(prefix="redis_gateway_", suffix=".log", delete=False)
        args = [binary, "--listen", "127.0.0.1:0", "--database-url", pg_url, "--db-schema", schema,
                "--admin-token", admin, *extra]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.stderr, text=True)
        self.port = None
        self.metrics_port = None
        end = time.monotonic() + DEADLINE
        while time.monotonic() < end:
            line = self.proc.stdout.readline()
            if not line:
                fail("gateway exited before listening: " + self.log())
            m = re.search(r"metrics on [^ ]+:(\d+)", line)
            if m:
                self.metrics_port = int(m.group(1))
            m = re.search(r"listening on [^ ]+:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                break
        check(self.port, "gateway did not print its port")

    def log(self):
        with open(self.stderr.name, encoding="utf-8", errors="replace") as f:
            return f.read()

    def alive(self):
        return self.proc.poll() is None

    def stop(self, drop_schema=True):
        if self.alive():
            self.proc.terminate()
            try:
                rc = self.proc.wait(timeout=DEADLINE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                fail("gateway did not stop on SIGTERM")
            check(rc == 0, f"gateway exited with {rc}: " + self.log()[-2000:])
        if drop_schema:
            psql(self.pg_url, f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
        os.unlink(self.stderr.name)

    def conn(self, port=None):
        return http.client.HTTPConnection("127.0.0.1", port or self.port, timeout=DEADLINE)

    def request(self, method, path, body=None, token=None, headers=None, conn=None, port=None):
        """(status, parsed JSON or text, headers)."""
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + token
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        c = conn or self.conn(port)
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        if conn is None:
            c.close()
        try:
            parsed = json.loads(data)
        except ValueError:
            parsed = data.decode("utf-8", "replace")
        return r.status, parsed, r

    def admin_req(self, method, path, body=None):
        return self.request(method, path, body, token=self.admin)

    def scrape(self, port=None):
        status, text, _ = self.request("GET", "/metrics", port=port or self.metrics_port)
        check(status == 200, f"/metrics answered {status}")
        return text

    def tenant(self, redis_host, redis_port, rps=None, name=None):
        """Creates an organization, a Redis instance and an API key: (org id, instance, key)."""
        s, org, _ = self.admin_req("POST", "/api/organizations", {"name": name or "org-" + suffix()})
        check(s == 201, f"create organization: {s} {org}")
        oid = org["result"]["id"]
        inst = "inst-" + suffix()
        s, r, _ = self.admin_req("POST", f"/api/organizations/{oid}/instances",
                                 {"name": inst, "host": redis_host, "port": redis_port})
        check(s == 201, f"create instance: {s} {r}")
        s, r, _ = self.admin_req("POST", f"/api/organizations/{oid}/api-keys",
                                 {"rate_limit_rps": rps} if rps else {})
        check(s == 201, f"create key: {s} {r}")
        return oid, inst, r["result"]["key"]


def psql(pg_url, sql):
    subprocess.run(["psql", "-X", "-q", "-d", pg_url, "-v", "ON_ERROR_STOP=1", "-c", sql], check=True,
                   stdout=subprocess.DEVNULL, env={**os.environ, "PGOPTIONS": "-c client_min_messages=warning"})


def redis_cli(host, port, *args):
    return subprocess.run(["redis-cli", "-h", host, "-p", str(port), *args], check=True, capture_output=True,
                          text=True).stdout


def samples(text, name):
    """{label string: value} for every sample of `name` (labels as rendered)."""
    out = {}
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            key, _, value = line.rpartition(" ")
            out[key[len(name):]] = float(value)
    return out


def value(text, name, labels=""):
    s = samples(text, name)
    return s.get(labels, 0.0)


class RedisServer:
    """A redis-server of the scenario's own, on a free port, for stopping."""

    def __init__(self, password=""):
        self.port = free_port()
        self.password = password
        self.proc = None
        self.start()

    def start(self):
        extra = ["--requirepass", self.password] if self.password else []
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--daemonize", "no", *extra],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        poll(lambda: self._pong(), "redis-server to answer PING")

    def _pong(self):
        auth = ["-a", self.password, "--no-auth-warning"] if self.password else []
        try:
            return "PONG" in redis_cli("127.0.0.1", self.port, *auth, "PING")
        except subprocess.CalledProcessError:
            return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=DEADLINE)
