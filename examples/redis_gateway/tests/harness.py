"""Shared helpers of the redis_gateway end-to-end scenarios: start the gateway
against the PostgreSQL and Redis that tests/run starts, talk HTTP to it, read
its metrics, and clean up what a scenario created (its schema, its Redis keys).
"""
import atexit
import http.client
import json
import os
import random
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "tests", "support"))
from ports import free_port  # noqa: E402,F401  (scenarios.py imports it from here)

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

    def __init__(self, binary, pg_url, schema, extra=(), admin="admin-" + suffix(), max_files=None):
        """max_files: the gateway's RLIMIT_NOFILE, soft and hard (it raises the soft one to the hard one)."""
        self.admin = admin
        self.schema = schema
        self.pg_url = pg_url
        self.stderr = tempfile.NamedTemporaryFile(prefix="redis_gateway_", suffix=".log", delete=False)
        args = [binary, "--listen", "127.0.0.1:0", "--database-url", pg_url, "--db-schema", schema,
                "--admin-token", admin, *extra]
        limit = (lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (max_files, max_files))) if max_files else None
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.stderr, text=True, preexec_fn=limit)
        atexit.register(self.proc.kill)  # a no-op once it has ended, as stop() ends it
        self.port = None
        self.metrics_port = None
        management = "--metrics-listen" in extra
        end = time.monotonic() + DEADLINE
        while time.monotonic() < end and not (self.port and (self.metrics_port or not management)):
            line = self.proc.stdout.readline()
            if not line:
                fail("gateway exited before listening: " + self.log())
            m = re.search(r"metrics on [^ ]+:(\d+)", line)
            if m:
                self.metrics_port = int(m.group(1))
            m = re.search(r"listening on [^ ]+:(\d+)", line)
            if m:
                self.port = int(m.group(1))
        check(self.port, "gateway did not print its port")

    def log(self):
        with open(self.stderr.name, encoding="utf-8", errors="replace") as f:
            return f.read()

    def alive(self):
        return self.proc.poll() is None

    def count(self, name, labels=""):
        """A sample of the gateway's own /metrics."""
        return value(self.scrape(), name, labels)

    def stop(self, drop_schema=True):
        """SIGTERM, and a clean exit; a gateway that already ended must have ended cleanly too (a crash
        during the scenario ends it early)."""
        rc = self.proc.poll()
        if rc is None:
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

    def tenant(self, redis_host, redis_port, rps=None, name=None, instance=None):
        """Creates an organization, a Redis instance and an API key: (org id, instance, key)."""
        s, org, _ = self.admin_req("POST", "/api/organizations", {"name": name or "org-" + suffix()})
        check(s == 201, f"create organization: {s} {org}")
        oid = org["result"]["id"]
        inst = instance or "inst-" + suffix()
        s, r, _ = self.admin_req("POST", f"/api/organizations/{oid}/instances",
                                 {"name": inst, "host": redis_host, "port": redis_port})
        check(s == 201, f"create instance: {s} {r}")
        s, r, _ = self.admin_req("POST", f"/api/organizations/{oid}/api-keys",
                                 {"rate_limit_rps": rps} if rps else {})
        check(s == 201, f"create key: {s} {r}")
        return oid, inst, r["result"]["key"]


def timed(fn, *args, **kw):
    """(seconds fn took, what it returned)."""
    start = time.monotonic()
    out = fn(*args, **kw)
    return time.monotonic() - start, out


def process_tree(pid):
    """pid and its descendants (from /proc), for stopping a server whole."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


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
        atexit.register(self.stop)  # also when the scenario fails before its cleanup
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
            self.resume()
            self.proc.terminate()
            self.proc.wait(timeout=DEADLINE)

    def restart(self):
        self.stop()
        self.start()

    def pause(self):
        """Hangs it (SIGSTOP): connections stay open and nothing answers."""
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def clients(self):
        """CLIENT LIST as dicts, without the connection asking."""
        auth = ["-a", self.password, "--no-auth-warning"] if self.password else []
        rows = [dict(f.split("=", 1) for f in line.split() if "=" in f)
                for line in redis_cli("127.0.0.1", self.port, *auth, "CLIENT", "LIST").splitlines()]
        return [r for r in rows if r.get("cmd") != "client|list"]


class PgCluster:
    """A PostgreSQL cluster of the scenario's own (tests/support/pg-cluster), for stopping, restarting and
    hanging."""

    def __init__(self, script):
        self.script = script
        self.dir = tempfile.mkdtemp(prefix="redis_gateway_pg_")
        os.chmod(self.dir, 0o755)
        self.port, self.password = free_port(), "pw-" + suffix()
        self.url = f"host=127.0.0.1 port={self.port} user=postgres password={self.password} dbname=postgres"
        atexit.register(self.remove)  # also when the scenario fails before its cleanup
        self.start()

    def start(self):
        subprocess.run(["bash", self.script, "start", self.dir, str(self.port), self.password], check=True,
                       stdout=subprocess.DEVNULL)

    def stop(self):
        subprocess.run(["bash", self.script, "stop", self.dir], check=True, stdout=subprocess.DEVNULL)

    def _signal_all(self, sig):
        with open(os.path.join(self.dir, "data", "postmaster.pid")) as f:
            postmaster = int(f.readline())
        for pid in process_tree(postmaster):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def pause(self):
        """Hangs the postmaster and every backend (SIGSTOP)."""
        self._signal_all(signal.SIGSTOP)

    def resume(self):
        self._signal_all(signal.SIGCONT)

    def remove(self):
        try:
            self.resume()
        except OSError:
            pass
        subprocess.run(["bash", self.script, "stop", self.dir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(["rm", "-rf", self.dir])
