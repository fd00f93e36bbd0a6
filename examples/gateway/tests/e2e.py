#!/usr/bin/env python3
"""End-to-end scenarios of obs_gateway against a real PostgreSQL and S3 server.

    e2e.py SCENARIO --gateway PATH [--promtool PATH] [--pg-cluster PATH]

Each scenario creates its own database on the shared server
(OBS_TEST_PG_URL), its own bucket on the shared S3 server
(OBS_TEST_S3_ENDPOINT), starts a gateway on free ports, and cleans up.
The scenarios that stop, restart or hang (SIGSTOP) an upstream start their
own PostgreSQL cluster or s3rver instead.
Only the standard library: the WebSocket client below speaks RFC 6455 itself,
which also lets it send frames no well-behaved library would.
"""

import argparse
import atexit
import base64
import http.client
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "tests", "support"))
from ports import free_port  # noqa: E402

REQUIRED_ENV = ["OBS_TEST_PG_URL", "OBS_TEST_PG_HOST", "OBS_TEST_PG_PORT", "OBS_TEST_PG_PASSWORD",
                "OBS_TEST_S3_ENDPOINT", "OBS_TEST_S3_ACCESS_KEY", "OBS_TEST_S3_SECRET_KEY"]
DEADLINE = 60.0  # seconds any single wait may take; generous for ASan on a loaded machine


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def wait_for(pred, what, timeout=DEADLINE):
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > end:
            fail("timed out waiting for " + what)
        time.sleep(0.05)


# --- PostgreSQL and S3 -----------------------------------------------------------


def psql(conninfo, sql):
    out = subprocess.run(["psql", conninfo, "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        fail("psql failed: " + out.stderr)
    return out.stdout.strip()


def with_dbname(conninfo, name):
    return re.sub(r"dbname=\S+", "", conninfo).strip() + " dbname=" + name


class database:
    """A database of its own on the shared server, dropped at exit."""

    def __init__(self, admin_url, tag):
        self.admin = admin_url
        self.name = "gateway_%s_%d_%06d" % (tag, os.getpid(), random.randrange(10**6))
        psql(admin_url, "CREATE DATABASE " + self.name)
        self.url = with_dbname(admin_url, self.name)

    def drop(self):
        psql(self.admin, "DROP DATABASE IF EXISTS %s WITH (FORCE)" % self.name)


def bucket_name(tag):
    return ("gateway-%s-%d-%06d" % (tag, os.getpid(), random.randrange(10**6))).replace("_", "-")


def parent_pid(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def signal_all(pids, sig):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


class pg_cluster:
    """A PostgreSQL cluster of the test's own, to stop, restart and hang."""

    def __init__(self, script):
        self.script = script
        self.root = tempfile.mkdtemp(prefix="gateway-pg-")
        os.chmod(self.root, 0o755)
        self.dir = os.path.join(self.root, "pg")
        self.port = free_port()
        self.password = "gateway-outage"
        self.url = ("host=127.0.0.1 port=%d user=postgres password=%s dbname=postgres connect_timeout=5"
                    % (self.port, self.password))
        self.hung = []
        self.removed = False
        atexit.register(self.remove)  # also when the scenario fails before its cleanup
        self.start()

    def _run(self, *a):
        out = subprocess.run(["bash", self.script] + list(a), capture_output=True, text=True, timeout=120)
        check(out.returncode == 0, "pg-cluster %s failed: %s" % (a[0], out.stderr))

    def start(self):
        self._run("start", self.dir, str(self.port), self.password)

    def stop(self):
        self._run("stop", self.dir)

    def hang(self):
        """SIGSTOPs the postmaster and every backend: connections stay open, nothing answers."""
        with open(os.path.join(self.dir, "data", "postmaster.pid")) as f:
            postmaster = int(f.readline())
        self.hung = [postmaster] + [int(p) for p in os.listdir("/proc")
                                    if p.isdigit() and parent_pid(int(p)) == postmaster]
        signal_all(self.hung, signal.SIGSTOP)

    def resume(self):
        signal_all(self.hung, signal.SIGCONT)
        self.hung = []

    def remove(self):
        """Stops and deletes the cluster, however far it got; once."""
        if self.removed:
            return
        self.removed = True
        self.resume()
        subprocess.run(["bash", self.script, "stop", self.dir], capture_output=True, timeout=120)
        shutil.rmtree(self.root, ignore_errors=True)


class s3_server:
    """An s3rver of the test's own, to kill, restart and hang."""

    def __init__(self):
        self.exe = os.environ.get("OBS_S3RVER")
        check(self.exe, "OBS_S3RVER is not set (the s3rver binary)")
        self.root = tempfile.mkdtemp(prefix="gateway-s3-")
        self.port = free_port()
        self.endpoint = "http://127.0.0.1:%d" % self.port
        self.proc = None
        atexit.register(self.remove)  # also when the scenario fails before its cleanup
        self.start()

    def start(self):
        self.proc = subprocess.Popen([self.exe, "--address", "127.0.0.1", "--port", str(self.port),
                                      "--directory", self.root, "--silent"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def up():
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                return False
        wait_for(up, "s3rver on %d" % self.port)

    def kill(self):
        self.proc.send_signal(signal.SIGCONT)
        self.proc.terminate()
        self.proc.wait(timeout=DEADLINE)

    def hang(self):
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def remove(self):
        if self.proc and self.proc.poll() is None:
            self.kill()
        shutil.rmtree(self.root, ignore_errors=True)


# --- The gateway process ------------------------------------------------------------


class gateway:
    def __init__(self, exe, db_url, s3_endpoint, bucket, *extra, nofile=None):
        self.log = tempfile.NamedTemporaryFile("w+", prefix="gateway-", suffix=".log", delete=False)
        args = [exe, "--listen", "127.0.0.1:0", "--management-listen", "127.0.0.1:0",
                "--database-url", db_url, "--s3-endpoint", s3_endpoint, "--s3-bucket", bucket,
                "--s3-access-key", os.environ["OBS_TEST_S3_ACCESS_KEY"],
                "--s3-secret-key", os.environ["OBS_TEST_S3_SECRET_KEY"]] + list(extra)

        def limit_descriptors():
            if nofile:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=limit_descriptors)
        atexit.register(self.proc.kill)  # a no-op once it has ended, as stop() ends it
        self.port = self.management_port = None
        self.final_output = None  # all it wrote, once stopped

        def started():
            if self.proc.poll() is not None:
                fail("gateway exited with %s:\n%s" % (self.proc.returncode, self.output()))
            text = self.output()
            pub = re.search(r"public http://[^:]+:(\d+)", text)
            mgmt = re.search(r"management http://([^:]+):(\d+)", text)
            if pub and mgmt:
                self.port, self.management_host, self.management_port = int(pub[1]), mgmt[1], int(mgmt[2])
                return True
            return False
        wait_for(started, "the gateway to start")

    def output(self):
        with open(self.log.name) as f:
            return f.read()

    def stop(self):
        """SIGTERM, and a clean exit; a gateway that already ended must have ended cleanly too (a crash
        during the scenario ends it early). Once is enough: a second call does nothing."""
        if self.final_output is not None:
            return
        rc = self.proc.poll()
        if rc is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=DEADLINE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                fail("gateway did not stop on SIGTERM:\n" + self.output())
        check(rc == 0, "gateway exited with %d:\n%s" % (rc, self.output()))
        self.final_output = self.output()
        if os.environ.get("E2E_KEEP_LOG"):
            print(self.final_output)
        os.unlink(self.log.name)

    def request(self, method, path, body=None, headers=None, management=False, timeout=DEADLINE):
        port = self.management_port if management else self.port
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, data, r

    def scrape(self):
        status, body, _ = self.request("GET", "/metrics", management=True)
        check(status == 200, "scrape answered %d" % status)
        return body.decode()

    def samples(self):
        return parse_metrics(self.scrape())

    def value(self, name, **labels):
        return self.samples().get((name, frozenset(labels.items())), 0.0)

    def fds(self):
        return len(os.listdir("/proc/%d/fd" % self.proc.pid))

    def cpu_seconds(self):
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            return int(re.search(r"VmRSS:\s+(\d+)", f.read())[1])


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        check(m is not None, "unparsable sample line: " + line)
        labels = frozenset(LABEL.findall(m[2] or ""))
        out[(m[1], labels)] = float(m[3])
    return out


# --- A WebSocket client (RFC 6455) ---------------------------------------------------


def shut_down(gw, upstreams, threads=()):
    """The end of a scenario that started its own upstreams, whatever happened in it: the upstreams
    resumed, so that requests waiting on them end; those requests' threads joined; the gateway
    stopped; the upstreams removed."""
    for upstream in upstreams:
        upstream.resume()
    for t in threads:
        t.join()
    try:
        gw.stop()
    finally:
        for upstream in upstreams:
            upstream.remove()


class ws_closed(Exception):
    def __init__(self, code):
        super().__init__("closed with %s" % code)
        self.code = code


class ws_client:
    def __init__(self, port, user, rcvbuf=None):
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(DEADLINE)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(("GET /ws?user=%s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
                           % (user, key)).encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ws_closed(None)
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        check(head.startswith(b"HTTP/1.1 101"), "handshake refused: %r" % head[:200])

    def send_frame(self, opcode, payload, fin=True, mask=True, rsv=0):
        b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
        n = len(payload)
        if n < 126:
            header = struct.pack("!BB", b0, (0x80 if mask else 0) | n)
        elif n < 65536:
            header = struct.pack("!BBH", b0, (0x80 if mask else 0) | 126, n)
        else:
            header = struct.pack("!BBQ", b0, (0x80 if mask else 0) | 127, n)
        if mask:
            key = os.urandom(4)
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
            header += key
        self.sock.sendall(header + payload)

    def send(self, obj):
        self.send_frame(1, json.dumps(obj).encode())

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ws_closed(None)
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def recv_frame(self):
        b0, b1 = self._read(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._read(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._read(8))[0]
        return b0 & 0x0F, self._read(n)

    def recv(self):
        """The next text message as JSON; answers pings; raises ws_closed on close."""
        while True:
            opcode, payload = self.recv_frame()
            if opcode == 8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                raise ws_closed(code)
            if opcode == 9:
                self.send_frame(10, payload)
                continue
            if opcode == 1:
                return json.loads(payload)

    def close_code(self):
        """Reads until the server closes; its close code, or None if it just
        hung up. A close is answered and the connection closed, as RFC 6455
        asks of a client."""
        try:
            while True:
                self.recv()
        except ws_closed as e:
            if e.code is not None:
                try:
                    self.send_frame(8, struct.pack("!H", e.code))
                except OSError:
                    pass
            self.sock.close()
            return e.code
        except (ConnectionResetError, BrokenPipeError):
            return None

    def close(self):
        try:
            self.send_frame(8, struct.pack("!H", 1000))
        except OSError:
            pass
        self.sock.close()


def joined(port, user, room):
    c = ws_client(port, user)
    c.send({"type": "join", "room": room})
    m = c.recv()
    check(m == {"type": "joined", "room": room}, "unexpected join reply %r" % m)
    return c


# --- Scenarios -----------------------------------------------------------------------


class raw_http:
    """One connection to the gateway, written and read byte by byte: what
    http.client would not send, or would hide (100 Continue, a HEAD answer's
    framing)."""

    def __init__(self, port, timeout=DEADLINE):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def response(self, head=False):
        """The next response as (status, headers, body); a HEAD answer's body
        is not read, as a client reusing the connection must not."""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionResetError("closed after %r" % self.buf[:200])
            self.buf += chunk
        header, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = header.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
        n = 0 if head or status < 200 else int(headers.get("content-length", "0"))
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionResetError("closed in a body")
            self.buf += chunk
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, headers, body

    def closed(self):
        """Whether the gateway closed the connection (EOF or reset)."""
        try:
            return self.sock.recv(1) == b""
        except (ConnectionResetError, BrokenPipeError):
            return True

    def close(self):
        self.sock.close()


class table_lock:
    """An ACCESS EXCLUSIVE lock on a table, held by a psql session until release():
    the gateway's queries on it wait, visibly (pg_stat_activity's wait_event_type 'Lock')."""

    def __init__(self, url, table):
        self.psql = subprocess.Popen(["psql", url, "-XAtq", "-v", "ON_ERROR_STOP=1"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.psql.stdin.write("BEGIN; LOCK TABLE %s IN ACCESS EXCLUSIVE MODE; SELECT 'locked';\n" % table)
        self.psql.stdin.flush()
        check(self.psql.stdout.readline().strip() == "locked", "%s could not be locked" % table)

    def release(self):
        if self.psql.poll() is None:
            self.psql.stdin.write("ROLLBACK;\n")
            self.psql.stdin.close()
            self.psql.wait(timeout=DEADLINE)

    def kill(self):
        if self.psql.poll() is None:
            self.psql.kill()
            self.psql.wait()


def with_gateway(args, tag, *extra, **kw):
    db = database(os.environ["OBS_TEST_PG_URL"], tag)
    gw = gateway(args.gateway, db.url, os.environ["OBS_TEST_S3_ENDPOINT"], bucket_name(tag), *extra, **kw)
    return db, gw


def scenario_rooms(args):
    """Clients in two rooms exchange messages; sent, received and ACK counts are exact."""
    db, gw = with_gateway(args, "rooms")
    try:
        members = {"red": ["ann", "bob", "cat"], "blue": ["cat", "dan"]}
        clients = {}
        joins = 0
        for room, users in members.items():
            for u in users:
                if u not in clients:
                    clients[u] = ws_client(gw.port, u)
                clients[u].send({"type": "join", "room": room})
                check(clients[u].recv() == {"type": "joined", "room": room}, "join failed")
                joins += 1
        per_sender = 5
        sends = deliveries = 0
        ids = []
        for room, users in members.items():
            for u in users:
                for i in range(per_sender):
                    clients[u].send({"type": "send", "room": room, "body": "%s says %d" % (u, i), "ref": i})
                    r = clients[u].recv()
                    check(r["type"] == "sent" and r["ref"] == i, "unexpected send reply %r" % r)
                    ids.append(r["id"])
                    sends += 1
                    for other in users:
                        if other == u:
                            continue
                        m = clients[other].recv()
                        check(m["type"] == "message" and m["id"] == r["id"] and m["from"] == u and
                              m["room"] == room, "unexpected delivery %r" % m)
                        clients[other].send({"type": "ack", "id": m["id"]})
                        deliveries += 1
        received = joins + sends + deliveries  # join, send and ack frames
        sent = joins + sends + deliveries      # joined and sent replies, fan-out deliveries
        wait_for(lambda: gw.value("ws_messages_received_total") == received,
                 "ws_messages_received_total == %d" % received)
        wait_for(lambda: gw.value("ws_messages_sent_total") == sent, "ws_messages_sent_total == %d" % sent)
        wait_for(lambda: psql(db.url, "SELECT count(*) FROM gateway_acks") == str(deliveries),
                 "%d ACK rows" % deliveries)
        check(psql(db.url, "SELECT count(*) FROM gateway_messages") == str(sends), "messages not all stored")
        check(gw.value("active_connections") == len(clients), "active_connections != %d" % len(clients))
        check(gw.value("channel_dropped_messages_total") == 0, "nothing should be dropped")
        status, body, _ = gw.request("GET", "/rooms/red/messages?limit=4")
        page = json.loads(body)
        check(status == 200 and len(page["messages"]) == 4, "history page of 4 expected: %r" % page)
        status, body, _ = gw.request("GET", "/rooms/red/messages?limit=200&before=%d" % page["next_before"])
        check(len(json.loads(body)["messages"]) == 3 * per_sender - 4, "second history page")
        status, body, _ = gw.request("POST", "/rooms/blue/messages", body=json.dumps({"body": "over http"}),
                                     headers={"Authorization": "Bearer eve"})
        check(status == 201, "HTTP post answered %d" % status)
        for u in members["blue"]:
            m = clients[u].recv()
            check(m["type"] == "message" and m["body"] == "over http" and m["from"] == "eve", "HTTP fan-out %r" % m)
        for c in clients.values():
            c.close()
        wait_for(lambda: gw.value("active_connections") == 0, "active_connections back to 0")
        s = gw.samples()
        check(s.get(("http_requests_total", frozenset({("method", "GET"), ("route", "/ws"), ("status", "101")})))
              == len(clients), "one /ws 101 per client")
        print("rooms: %d joins, %d sends, %d deliveries and ACKs, all counted exactly" % (joins, sends, deliveries))
    finally:
        try:
            gw.stop()  # fails the test on a bad exit; the database goes anyway
        finally:
            db.drop()


def scenario_slow_consumer(args):
    """A client that never reads: its messages are dropped and counted; depth stays bounded."""
    capacity = 16
    db, gw = with_gateway(args, "slow", "--outbound-queue", str(capacity), "--ws-send-buffer-bytes", "4096")
    try:
        slow = ws_client(gw.port, "slow", rcvbuf=4096)
        slow.send({"type": "join", "room": "r"})  # its "joined" reply is never read
        fast = joined(gw.port, "fast", "r")
        producer = joined(gw.port, "producer", "r")
        n = 400
        body = "x" * 2000
        max_depth = 0
        for i in range(n):
            producer.send({"type": "send", "room": "r", "body": body, "ref": i})
            r = producer.recv()
            check(r["type"] == "sent", "producer got %r" % r)
            # In step with the producer, so only the slow client falls behind.
            m = fast.recv()
            check(m["type"] == "message" and m["id"] == r["id"], "the fast consumer missed message %d" % i)
            if i % 50 == 0:
                depth = gw.value("channel_queue_depth", type="outbound")
                max_depth = max(max_depth, depth)
                check(depth <= 3 * capacity, "outbound depth %s exceeds 3 connections x %d" % (depth, capacity))
        dropped = wait_for(lambda: gw.value("channel_dropped_messages_total"), "drops to be counted")
        depth = gw.value("channel_queue_depth", type="outbound")
        check(depth <= capacity, "outbound depth %s while only the slow client is behind" % depth)
        check(dropped >= n - 2 * capacity - 200, "dropped only %s of %d (kernel buffers hold ~4 KiB)" % (dropped, n))
        check("gateway: outbound queue: a client is not reading" in gw.output(),
              "the log does not tell of the drops:\n" + gw.output())
        status, _, _ = gw.request("GET", "/rooms/r/messages?limit=1")
        check(status == 200, "the gateway stays responsive")
        slow.sock.close()
        fast.close()
        producer.close()
        wait_for(lambda: gw.value("channel_queue_depth", type="outbound") == 0, "outbound depth back to 0")
        wait_for(lambda: gw.value("active_connections") == 0, "active_connections back to 0")
        print("slow consumer: %d dropped, outbound depth peaked at %d sampled, fast consumer got all %d"
              % (dropped, max(max_depth, depth), n))
    finally:
        try:
            gw.stop()  # fails the test on a bad exit; the database goes anyway
        finally:
            db.drop()


def scenario_attachments(args):
    """An attachment round-trips through the S3 server, byte for byte, with its content type."""
    db, gw = with_gateway(args, "attach")
    try:
        data = os.urandom(300 * 1024)
        status, body, _ = gw.request("POST", "/attachments", body=data,
                                     headers={"Authorization": "Bearer ann", "Content-Type": "image/png"})
        check(status == 201, "upload answered %d: %r" % (status, body))
        key = json.loads(body)["key"]
        status, body, r = gw.request("GET", "/attachments/" + key)
        check(status == 200 and body == data, "download differs (%d, %d bytes)" % (status, len(body)))
        check(r.getheader("Content-Type") == "image/png", "content type %r" % r.getheader("Content-Type"))
        status, _, _ = gw.request("GET", "/attachments/" + "0" * 32)
        check(status == 404, "missing attachment answered %d" % status)
        status, _, _ = gw.request("POST", "/attachments", body=b"x")
        check(status == 401, "anonymous upload answered %d" % status)
        status, body, _ = gw.request("POST", "/rooms/r/messages", body=json.dumps({"body": "see", "attachment": key}),
                                     headers={"Authorization": "Bearer ann"})
        check(status == 201 and json.loads(body)["attachment"] == key, "message with attachment")
        s = gw.samples()
        check(s[("s3_upload_duration_seconds_count", frozenset())] == 1, "one upload timed")
        check(s[("s3_download_duration_seconds_count", frozenset())] == 2, "two downloads timed")
        print("attachments: %d bytes round-tripped through S3" % len(data))
    finally:
        try:
            gw.stop()  # fails the test on a bad exit; the database goes anyway
        finally:
            db.drop()


def scenario_management_only(args):
    """/metrics answers only on the management port, which binds loopback by default; every series
    without labels is exported at 0 from the start."""
    db, gw = with_gateway(args, "mgmt")
    try:
        # Every series without labels is there from the start, at 0, so rate() has a start.
        s = gw.samples()
        for name in ["s3_upload_duration_seconds_count", "s3_download_duration_seconds_count", "active_connections",
                     "ws_messages_sent_total", "ws_messages_received_total", "channel_dropped_messages_total",
                     "http_connections_refused_total", "http_accept_errors_total", "db_errors_total",
                     "s3_errors_total"]:
            check(s.get((name, frozenset())) == 0, "%s is not exported at 0 from the start" % name)
        for path in ["/metrics", "/health", "/livez", "/readyz"]:
            status, _, _ = gw.request("GET", path)
            check(status == 404, "public %s answered %d, not 404" % (path, status))
        status, body, _ = gw.request("GET", "/metrics", management=True)
        check(status == 200 and b"# TYPE http_requests_total counter" in body, "management /metrics")
        for path in ["/livez", "/readyz", "/health"]:
            status, body, _ = gw.request("GET", path, management=True)
            check(status == 200, "management %s answered %d: %r" % (path, status, body))
        status, _, _ = gw.request("GET", "/rooms/r/messages", management=True)
        check(status == 404, "the management port serves no API")
        check(gw.value("http_requests_total", method="GET", route="unmatched", status="404") == 4,
              "the public /metrics probes count as unmatched 404s")
        # A request's W3C trace id is its duration's exemplar: OpenMetrics shows it on the bucket
        # line, and protobuf (which carries the native buckets) is offered to Prometheus.
        trace = "4bf92f3577b34da6a3ce929d0e0e4736"
        gw.request("GET", "/rooms/traced/messages",
                   headers={"traceparent": "00-%s-00f067aa0ba902b7-01" % trace})
        status, body, _ = gw.request("GET", "/metrics", management=True,
                                     headers={"Accept": "application/openmetrics-text; version=1.0.0"})
        exemplar_lines = [l for l in body.decode().splitlines()
                          if l.startswith("http_request_duration_seconds_bucket") and 'trace_id="%s"' % trace in l]
        check(status == 200 and len(exemplar_lines) == 1, "the trace id is one bucket's exemplar: %r" % exemplar_lines)
        status, body, r = gw.request("GET", "/metrics", management=True, headers={
            "Accept": "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"})
        check(status == 200 and "application/vnd.google.protobuf" in r.getheader("Content-Type", "")
              and b"http_request_duration_seconds" in body, "protobuf is offered")
        db2 = database(os.environ["OBS_TEST_PG_URL"], "mgmtdefault")
        exe = subprocess.run([args.gateway, "--help"], capture_output=True, text=True)
        check("127.0.0.1:9090" in exe.stdout, "the management default is 127.0.0.1:9090")
        db2.drop()
        print("management only: public /metrics is 404, management serves metrics and probes")
    finally:
        try:
            gw.stop()  # fails the test on a bad exit; the database goes anyway
        finally:
            db.drop()


def scenario_promtool(args):
    """promtool check metrics accepts a live scrape taken after traffic."""
    check(args.promtool, "promtool not found")
    db, gw = with_gateway(args, "promtool")
    try:
        a = joined(gw.port, "ann", "r")
        b = joined(gw.port, "bob", "r")
        a.send({"type": "send", "room": "r", "body": "hi"})
        a.recv()
        b.send({"type": "ack", "id": b.recv()["id"]})
        gw.request("GET", "/nowhere")
        gw.request("POST", "/attachments", body=b"abc", headers={"Authorization": "Bearer ann"})
        wait_for(lambda: gw.value("db_query_duration_seconds_count") >= 3, "queries to be timed")
        text = gw.scrape()
        out = subprocess.run([args.promtool, "check", "metrics"], input=text, capture_output=True, text=True)
        check(out.returncode == 0, "promtool check metrics:\n%s%s" % (out.stdout, out.stderr))
        for name in ["http_requests_total", "http_request_duration_seconds", "active_connections",
                     "ws_messages_sent_total", "ws_messages_received_total", "channel_queue_depth",
                     "channel_dropped_messages_total", "db_pool_wait_duration_seconds", "db_query_duration_seconds",
                     "s3_upload_duration_seconds"]:
            check("# HELP %s " % name in text, "no HELP for " + name)
        a.close()
        b.close()
        print("promtool: a live scrape of %d lines passes" % len(text.splitlines()))
    finally:
        try:
            gw.stop()  # fails the test on a bad exit; the database goes anyway
        finally:
            db.drop()


def scenario_route_cardinality(args):
    """10,000 random paths leave the route label with templates and "unmatched" only."""
    db, gw = with_gateway(args, "routes")
    try:
        c = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=DEADLINE)
        rng = random.Random(7)
        alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-_.%~"
        for i in range(10000):
            word = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
            # A third of the paths fill a template's placeholder with a random value.
            path = rng.choice(["/" + "/".join("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
                                              for _ in range(rng.randint(1, 4))),
                               "/" + word, "/rooms/%s/messages/x" % word,
                               "/attachments/" + word, "/rooms/%s/messages?limit=0" % word])
            method = rng.choice(["GET", "GET", "POST", "DELETE", "PATCH"])
            c.request(method, path, body=b"" if method != "GET" else None)
            r = c.getresponse()
            r.read()
            check(r.status in (400, 401, 404, 405), "%s %s answered %d" % (method, path, r.status))
        c.close()
        s = gw.samples()
        routes = {dict(k[1])["route"] for k in s if k[0] == "http_requests_total"}
        series = [k for k in s if k[0] == "http_requests_total"]
        check(routes <= {"unmatched", "/ws", "/rooms/{room}/messages", "/attachments", "/attachments/{key}"},
              "unexpected route labels: %r" % sorted(routes)[:10])
        check("/attachments/{key}" in routes and "/rooms/{room}/messages" in routes, "templates not exercised")
        check(len(series) <= 40, "%d http_requests_total series" % len(series))
        total = sum(v for k, v in s.items() if k[0] == "http_requests_total")
        check(total == 10000, "counted %d requests" % total)
        print("route cardinality: 10000 random paths, %d series, routes %s" % (len(series), sorted(routes)))
    finally:
        try:
            gw.stop()  # fails the test on a bad exit; the database goes anyway
        finally:
            db.drop()


def scenario_malformed_frames(args):
    """Frames that break RFC 6455 close that connection (1002, or 1007 for bad UTF-8); others go on."""
    db, gw = with_gateway(args, "frames")
    try:
        bystander = joined(gw.port, "bystander", "r")
        cases = [
            ("unmasked client frame", lambda c: c.send_frame(1, b'{"type":"join"}', mask=False), {1002}),
            ("reserved bits set", lambda c: c.send_frame(1, b"{}", rsv=3), {1002}),
            ("unknown opcode", lambda c: c.send_frame(3, b"x"), {1002}),
            ("fragmented ping", lambda c: c.send_frame(9, b"x", fin=False), {1002}),
            ("continuation without a start", lambda c: c.send_frame(0, b"x"), {1002}),
            ("invalid UTF-8 text", lambda c: c.send_frame(1, b"\xff\xfe"), {1007}),
            ("truncated frame, then hang up", lambda c: c.sock.sendall(b"\x81\xfe\x10"), None),
        ]
        for name, send, codes in cases:
            c = ws_client(gw.port, "bad")
            send(c)
            if codes is None:
                c.sock.close()
                continue
            code = c.close_code()
            check(code in codes, "%s: closed with %r, expected %s" % (name, code, codes))
            c.sock.close()
        # Not JSON, or JSON of the wrong shape: an error reply, and the connection stays.
        c = ws_client(gw.port, "confused")
        for junk in [b"not json", b"[1,2]", b'{"type":"send","room":"r"}', b'{"type":"ack","id":"x"}',
                     b'{"type":"join","room":"bad room!"}', b'{"type":42}']:
            c.send_frame(1, junk)
            check(c.recv()["type"] == "error", "junk %r got no error reply" % junk)
        c.send_frame(2, b"\x00\x01")
        check(c.recv()["type"] == "error", "binary message got no error reply")
        c.close()
        # Garbage on the HTTP side.
        s = socket.create_connection(("127.0.0.1", gw.port), timeout=DEADLINE)
        s.sendall(b"\x16\x03\x01garbage\r\n\r\n")
        check(s.recv(100).startswith(b"HTTP/1.1 400"), "garbage HTTP got no 400")
        s.close()
        bystander.send({"type": "send", "room": "r", "body": "still here"})
        check(bystander.recv()["type"] == "sent", "the bystander was disturbed")
        bystander.close()
        wait_for(lambda: gw.value("active_connections") == 0, "active_connections back to 0")
        print("malformed frames: %d protocol violations closed their connection only" % len(cases))
    finally:
        try:
            gw.stop()  # fails the test on a bad exit; the database goes anyway
        finally:
            db.drop()


def scenario_oversized(args):
    """A message over --max-ws-message-bytes closes the connection with 1009."""
    db, gw = with_gateway(args, "big", "--max-ws-message-bytes", "1024")
    try:
        c = joined(gw.port, "ann", "r")
        c.send({"type": "send", "room": "r", "body": "y" * 900})
        check(c.recv()["type"] == "sent", "a message under the limit passes")
        c.send({"type": "send", "room": "r", "body": "y" * 2000})
        code = c.close_code()
        check(code == 1009, "oversized message closed with %r, not 1009" % code)
        c.sock.close()
        # A fragmented message whose pieces are small but whose total is not.
        c = ws_client(gw.port, "bob")
        c.send_frame(1, b"z" * 800, fin=False)
        c.send_frame(0, b"z" * 800, fin=True)
        check(c.close_code() == 1009, "fragmented oversized message not closed with 1009")
        c.sock.close()
        status, _, _ = gw.request("POST", "/rooms/r/messages", body=b"x" * (70 * 1024),
                                  headers={"Authorization": "Bearer ann"})
        check(status == 413, "an oversized HTTP body answered %d" % status)
        wait_for(lambda: gw.value("active_connections") == 0, "active_connections back to 0")
        print("oversized: 1009 for a whole and a fragmented message, 413 over HTTP")
    finally:
        try:
            gw.stop()  # fails the test on a bad exit; the database goes anyway
        finally:
            db.drop()


def scenario_many_connections(args):
    """1,000 concurrent WebSocket clients; descriptors and RSS return near baseline afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    n = 1000
    db, gw = with_gateway(args, "many")
    try:
        warm = joined(gw.port, "warm", "lobby")
        warm.close()
        wait_for(lambda: gw.value("active_connections") == 0, "warm-up client gone")
        base_fds, base_rss = gw.fds(), gw.rss_kib()
        for rnd in range(2):
            clients = [joined(gw.port, "u%d" % i, "lobby") for i in range(n)]
            check(gw.value("active_connections") == n, "active_connections != %d" % n)
            clients[0].send({"type": "send", "room": "lobby", "body": "to everyone"})
            check(clients[0].recv()["type"] == "sent", "broadcast not stored")
            for c in clients[1:]:
                check(c.recv()["body"] == "to everyone", "broadcast not delivered")
            for c in clients:
                c.close()
            wait_for(lambda: gw.value("active_connections") == 0, "all %d closed" % n)
        wait_for(lambda: gw.fds() <= base_fds + 5, "descriptors back near %d (now %d)" % (base_fds, gw.fds()))
        rss = gw.rss_kib()
        # Under ASan freed memory sits in its quarantine, so RSS says nothing;
        # LeakSanitizer checks at exit instead (and stop() wants exit code 0).
        if not os.environ.get("GATEWAY_E2E_SANITIZED"):
            check(rss <= base_rss + 64 * 1024, "RSS grew from %d KiB to %d KiB" % (base_rss, rss))
        print("many connections: 2 rounds of %d clients; fds %d -> %d, RSS %d -> %d KiB"
              % (n, base_fds, gw.fds(), base_rss, rss))
    finally:
        try:
            gw.stop()  # fails the test on a bad exit; the database goes anyway
        finally:
            db.drop()


def scenario_database_outage(args):
    """The database goes away and comes back: 503s and unready meanwhile, then service as before.
    Clients hear "database unavailable", never the database's address; the log has the detail."""
    pg = pg_cluster(args.pg_cluster)
    gw = gateway(args.gateway, pg.url, os.environ["OBS_TEST_S3_ENDPOINT"], bucket_name("dbout"),
                 "--db-acquire-timeout-ms", "1000")
    try:
        def post(body):
            return gw.request("POST", "/rooms/r/messages", body=json.dumps({"body": body}),
                              headers={"Authorization": "Bearer ann"})
        c = joined(gw.port, "ann", "r")
        check(post("before")[0] == 201, "post before the outage")
        check(c.recv()["body"] == "before", "the post before the outage is delivered")
        wait_for(lambda: gw.request("GET", "/readyz", management=True)[0] == 200, "ready")
        pg.stop()
        status, body, _ = post("during")
        check(status == 503, "a post while the database is down is not 503")
        check(json.loads(body) == {"error": "database unavailable"}, "the 503 says more than it should: %r" % body)
        status, body, _ = gw.request("GET", "/rooms/r/messages")
        check(status == 503 and json.loads(body) == {"error": "database unavailable"}, "history: %r" % body)
        check(str(pg.port) in gw.output(), "the log does not name the database that failed:\n" + gw.output())
        check(gw.value("db_errors_total") >= 2, "the failed requests are not counted in db_errors_total")
        c.send({"type": "send", "room": "r", "body": "during"})
        reply = c.recv()
        check(reply["error"] == "message not stored: database unavailable", "WebSocket send while down: %r" % reply)
        c.send({"type": "ack", "id": 1})
        wait_for(lambda: gw.request("GET", "/readyz", management=True)[0] == 503, "unready while down")
        check(gw.request("GET", "/livez", management=True)[0] == 200, "still live")
        pg.start()
        wait_for(lambda: post("after")[0] == 201, "posts to work again")
        while c.recv()["type"] != "message":  # the delivery of the HTTP post "after"
            pass
        wait_for(lambda: gw.request("GET", "/readyz", management=True)[0] == 200, "ready again")
        c.send({"type": "send", "room": "r", "body": "after"})
        check(c.recv()["type"] == "sent", "WebSocket send after the outage")
        wait_for(lambda: psql(pg.url, "SELECT count(*) FROM gateway_acks") == "1", "the held ACK written after")
        c.close()
        print("database outage: 503 and unready while down, ACK kept and written after, no address told")
    finally:
        shut_down(gw, [pg])


def scenario_ack_queue_full(args):
    """ACKs while the database is away fill the ACK queue: the ones that do not fit are dropped,
    counted and logged, and every ACK is either written once the database is back or counted."""
    pg = pg_cluster(args.pg_cluster)
    capacity, batch, n = 4, 2, 24
    gw = gateway(args.gateway, pg.url, os.environ["OBS_TEST_S3_ENDPOINT"], bucket_name("ackfull"),
                 "--ack-queue", str(capacity), "--ack-batch", str(batch))
    try:
        c = joined(gw.port, "ann", "r")
        ids = []
        for i in range(n):
            status, _, _ = gw.request("POST", "/rooms/r/messages", body=json.dumps({"body": str(i)}),
                                      headers={"Authorization": "Bearer bob"})
            check(status == 201, "post %d answered %d" % (i, status))
            ids.append(c.recv()["id"])
        pg.stop()
        for i in ids:
            c.send({"type": "ack", "id": i})
        # A connection's frames are handled in order: once the join is answered, every ACK
        # before it was queued or dropped.
        c.send({"type": "join", "room": "sync"})
        check(c.recv() == {"type": "joined", "room": "sync"}, "the join after the ACKs is not answered")
        dropped = int(gw.value("channel_dropped_messages_total"))
        # The writer holds one batch, retried while the database is away; the queue the rest.
        check(n - capacity - batch <= dropped <= n - capacity,
              "%d of %d ACKs dropped with --ack-queue %d --ack-batch %d" % (dropped, n, capacity, batch))
        check(gw.value("channel_queue_depth", type="ack") >= capacity - batch, "the ACK queue is not full")
        check("gateway: ACK queue: the database is behind and the queue is full: ACK dropped" in gw.output(),
              "the log does not tell of the dropped ACKs:\n" + gw.output())
        pg.start()
        wait_for(lambda: psql(pg.url, "SELECT count(*) FROM gateway_acks") == str(n - dropped),
                 "the %d ACKs kept to be written" % (n - dropped))
        wait_for(lambda: gw.value("channel_queue_depth", type="ack") == 0, "the ACK queue to drain")
        check(gw.value("channel_dropped_messages_total") == dropped, "more drops once the database was back")
        c.close()
        gw.stop()
        # One line for the first drop, then "N more ACKs dropped" lines, the last one at exit.
        logged = sum(1 if m[1] is None else int(m[1]) for m in re.finditer(
            r"gateway: ACK queue: (?:the database is behind and the queue is full: ACK dropped|(\d+) more ACKs dropped)",
            gw.final_output))
        check(logged == dropped, "the log tells of %d dropped ACKs, the counter of %d:\n%s"
              % (logged, dropped, gw.final_output))
        print("ACK queue full: %d of %d ACKs dropped, counted and logged; the other %d written after"
              % (dropped, n, n - dropped))
    finally:
        shut_down(gw, [pg])


def scenario_object_store_outage(args):
    """The S3 server goes away and comes back: 502s and unready meanwhile, uploads after.
    Clients hear "object store unavailable", never the store's address; the log has the detail."""
    s3 = s3_server()
    db = database(os.environ["OBS_TEST_PG_URL"], "s3out")
    gw = gateway(args.gateway, db.url, s3.endpoint, "gateway-outage")
    try:
        def upload():
            return gw.request("POST", "/attachments", body=b"payload", headers={"Authorization": "Bearer ann"})
        status, body, _ = upload()
        check(status == 201, "upload before the outage")
        key = json.loads(body)["key"]
        s3.kill()
        status, body, _ = upload()
        check(status == 502, "upload while S3 is down is not 502")
        check(json.loads(body) == {"error": "object store unavailable"}, "the 502 says more than it should: %r" % body)
        status, body, _ = gw.request("GET", "/attachments/" + key)
        check(status == 502 and json.loads(body) == {"error": "object store unavailable"}, "download: %r" % body)
        check("cannot connect to S3 at 127.0.0.1:%d" % s3.port in gw.output(),
              "the log does not name the store that failed:\n" + gw.output())
        check(gw.value("s3_errors_total") >= 2, "the failed calls are not counted in s3_errors_total")
        wait_for(lambda: gw.request("GET", "/readyz", management=True)[0] == 503, "unready while down")
        s3.start()
        wait_for(lambda: upload()[0] == 201, "uploads to work again")
        wait_for(lambda: gw.request("GET", "/readyz", management=True)[0] == 200, "ready again")
        print("object store outage: 502 and unready while down, uploads after, no address told")
    finally:
        try:
            gw.stop()  # fails the test on a bad exit; the database goes anyway
        finally:
            db.drop()
            s3.remove()


def scenario_accept_errors(args):
    """Out of descriptors (a low RLIMIT_NOFILE): failed accepts are counted and logged once, the
    listener backs off instead of spinning, and accepting resumes once descriptors are free."""
    db, gw = with_gateway(args, "fds", nofile=64)
    hogs = []
    try:
        # Opened before the descriptors run out: the management port cannot accept either then.
        mgmt = http.client.HTTPConnection("127.0.0.1", gw.management_port, timeout=DEADLINE)

        def errors():
            mgmt.request("GET", "/metrics")
            return parse_metrics(mgmt.getresponse().read().decode()).get(("http_accept_errors_total", frozenset()))
        check(errors() == 0, "http_accept_errors_total is not exported at 0")
        # More connections than the gateway has descriptors: the kernel completes every handshake,
        # the gateway accepts until accept(2) fails with EMFILE.
        hogs = [socket.create_connection(("127.0.0.1", gw.port), timeout=DEADLINE) for _ in range(100)]
        wait_for(lambda: errors() >= 1, "a failed accept to be counted")
        cpu_before, wall_before = gw.cpu_seconds(), time.monotonic()
        wait_for(lambda: errors() >= 5, "the listener to retry")  # 10 + 20 + 40 + 80 ms of backoff at least
        cpu, wall = gw.cpu_seconds() - cpu_before, time.monotonic() - wall_before
        check(cpu < 0.5 * wall + 0.05, "the gateway spins while out of descriptors: %.2f s CPU in %.2f s" % (cpu, wall))
        for h in hogs:
            h.close()
        hogs = []
        wait_for(lambda: gw.request("GET", "/rooms/r/messages", timeout=5)[0] == 200, "accepting to resume")
        log = gw.output()
        check(log.count("accept failed") == 1, "one failed accept logged per burst:\n" + log)
        check("accepting again after" in log, "no line says accepting resumed:\n" + log)
        n = errors()
        mgmt.close()
        print("accept errors: %d failed accepts counted while out of descriptors, then served again" % n)
    finally:
        for h in hogs:
            h.close()
        try:
            gw.stop()  # fails the test on a bad exit; the database goes anyway
        finally:
            db.drop()


# The gateway's backends: on a cluster of the test's own, every client backend but psql's.
GATEWAY_BACKENDS = "FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"


def scenario_pool_after_restart(args):
    """PostgreSQL restarts, then the gateway's backends are terminated: the pooled connections that
    died idle are found at checkout and replaced, and no client sees an error."""
    pg = pg_cluster(args.pg_cluster)
    gw = gateway(args.gateway, pg.url, os.environ["OBS_TEST_S3_ENDPOINT"], bucket_name("restart"),
                 "--db-pool-size", "4")
    try:
        sender = joined(gw.port, "ann", "r")
        reader = joined(gw.port, "bob", "r")

        def post(body):
            return gw.request("POST", "/rooms/r/messages", body=json.dumps({"body": body}),
                              headers={"Authorization": "Bearer cat"})[0]

        def burst(tag):
            """16 posts at once, a WebSocket send and a history read; every status."""
            statuses = []
            threads = [threading.Thread(target=lambda i=i: statuses.append(post("%s %d" % (tag, i))))
                       for i in range(16)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            sender.send({"type": "send", "room": "r", "body": tag})
            reply = sender.recv()
            while reply["type"] == "message":  # the posts' deliveries
                reply = sender.recv()
            statuses.append(reply["type"])
            statuses.append(gw.request("GET", "/rooms/r/messages?limit=1")[0])
            for _ in range(statuses.count(201) + statuses.count("sent")):
                check(reader.recv()["type"] == "message", "a delivery is missing")
            return statuses

        # Fill the pool: several connections open, then idle.
        wait_for(lambda: burst("warm") and int(psql(pg.url, "SELECT count(*) " + GATEWAY_BACKENDS)) >= 3,
                 "three pooled connections")
        pg.stop()
        pg.start()
        statuses = burst("after restart")
        check(all(st in (200, 201, "sent") for st in statuses), "errors after the restart: %r" % statuses)
        pids = psql(pg.url, "SELECT string_agg(pid::text, ',') " + GATEWAY_BACKENDS)
        psql(pg.url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid IN (%s)" % pids)
        wait_for(lambda: psql(pg.url, "SELECT count(*) FROM pg_stat_activity WHERE pid IN (%s)" % pids) == "0",
                 "the terminated backends to exit")
        statuses = burst("after terminate")
        check(all(st in (200, 201, "sent") for st in statuses), "errors after terminating: %r" % statuses)
        sender.close()
        reader.close()
        print("pool after restart: %d requests after a restart and a terminate, no error" % (2 * len(statuses)))
    finally:
        shut_down(gw, [pg])


def scenario_pool_wait(args):
    """Every pooled connection busy: a request waits in the pool, where db_pool_wait_duration_seconds
    sees it, and gets a 503 after --db-acquire-timeout-ms."""
    db, gw = with_gateway(args, "wait", "--db-pool-size", "1", "--db-acquire-timeout-ms", "300")
    locker = None
    try:
        def post(body, timeout=DEADLINE):
            return gw.request("POST", "/rooms/r/messages", body=json.dumps({"body": body}),
                              headers={"Authorization": "Bearer ann"}, timeout=timeout)
        check(post("first")[0] == 201, "a post with the pool free")
        locker = table_lock(db.url, "gateway_messages")
        held = []
        holder = threading.Thread(target=lambda: held.append(post("held")[0]))
        holder.start()
        # The only connection now waits for the lock with the first post on it.
        wait_for(lambda: psql(db.url, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                      "AND datname = current_database()") == "1", "the post to wait for the lock")
        started = time.monotonic()
        try:
            status, body, _ = post("waits", timeout=10)
        except TimeoutError:
            fail("no answer in 10 s: the request waits where no acquire timeout applies")
        waited = time.monotonic() - started
        check(status == 503 and json.loads(body) == {"error": "database unavailable"},
              "a request with the pool busy got %d %r" % (status, body))
        check(0.29 <= waited < 3, "the 503 came after %.2f s, not the acquire timeout (0.3 s)" % waited)
        over_100ms = gw.value("db_pool_wait_duration_seconds_count") - \
            gw.value("db_pool_wait_duration_seconds_bucket", le="0.1")
        check(over_100ms >= 1, "db_pool_wait_duration_seconds has no wait over 100 ms")
        check(gw.value("db_errors_total") >= 1, "the timeout is not counted in db_errors_total")
        locker.release()
        holder.join()
        check(held == [201], "the post that held the connection answered %r" % held)
        print("pool wait: 503 after %.2f s in the pool, the wait measured" % waited)
    finally:
        if locker:
            locker.kill()
        try:
            gw.stop()
        finally:
            db.drop()


def timed_request(gw, path, management=True):
    started = time.monotonic()
    status = gw.request("GET", path, management=management, timeout=5)[0]
    return status, time.monotonic() - started


def scenario_probes_during_hang(args):
    """PostgreSQL and the S3 server hung (SIGSTOP) with requests waiting on both: /livez, /metrics,
    /health and /readyz each answer within 100 ms, and /readyz turns 503 within 2 s."""
    pg = pg_cluster(args.pg_cluster)
    s3 = s3_server()
    gw = gateway(args.gateway, pg.url, s3.endpoint, "gateway-hang")
    waiting = []
    try:
        wait_for(lambda: gw.request("GET", "/readyz", management=True)[0] == 200, "ready")
        pg.hang()
        s3.hang()
        hung_at = time.monotonic()

        def attempt(method, path, body):
            try:
                gw.request(method, path, body=body, headers={"Authorization": "Bearer ann"}, timeout=15)
            except OSError:
                pass
        waiting = [threading.Thread(target=attempt, args=a) for a in
                   [("POST", "/rooms/r/messages", json.dumps({"body": "hi"}))] * 4 + [("POST", "/attachments", b"x")] * 2]
        for t in waiting:
            t.start()
        slowest = {}
        unready_after = None
        while time.monotonic() - hung_at < 3:
            for path in ["/livez", "/metrics", "/health", "/readyz"]:
                # A loaded machine may hold any process for a tick, so a probe has three tries to
                # answer within 100 ms; one queued behind the upstreams would wait a check timeout
                # (1 s) or the whole hang, every time.
                tries = [timed_request(gw, path) for _ in range(3)]
                status, took = min(tries, key=lambda t: t[1])
                slowest[path] = max(slowest.get(path, 0), took)
                check(took < 0.1, "%s took %s s with the upstreams hung" % (path, ["%.3f" % t[1] for t in tries]))
                if path == "/readyz" and status == 503 and unready_after is None:
                    unready_after = time.monotonic() - hung_at
            if unready_after is not None and time.monotonic() - hung_at > unready_after + 0.5:
                break
        check(unready_after is not None and unready_after <= 2.5,
              "/readyz did not turn 503 within 2 s of the hang (%r)" % unready_after)
        check(gw.request("GET", "/health", management=True)[0] == 503, "/health is not 503 with the upstreams hung")
        pg.resume()
        s3.resume()
        wait_for(lambda: gw.request("GET", "/readyz", management=True)[0] == 200, "ready again")
        print("probes during a hang: unready after %.2f s; slowest (best of three) %s" %
              (unready_after, ", ".join("%s %.1f ms" % (p, t * 1000) for p, t in slowest.items())))
    finally:
        shut_down(gw, [pg, s3], waiting)


def scenario_sigterm_during_hang(args):
    """SIGTERM with PostgreSQL and the S3 server hung and requests waiting on both: the listener
    closes, idle connections close at once (WebSocket clients with 1001), what still waits at
    --shutdown-timeout-ms is answered 503, and the gateway exits 0 right after."""
    timeout = 1.0
    pg = pg_cluster(args.pg_cluster)
    s3 = s3_server()
    gw = gateway(args.gateway, pg.url, s3.endpoint, "gateway-sigterm", "--shutdown-timeout-ms",
                 str(int(timeout * 1000)), "--ack-flush-ms", "10")
    locker = None
    answers = {}
    threads = []
    try:
        def post():
            try:
                r = gw.request("POST", "/rooms/r/messages", body=json.dumps({"body": "late"}),
                               headers={"Authorization": "Bearer ann"}, timeout=10)
                answers["post"] = (r[0], json.loads(r[1]), time.monotonic())
            except OSError as e:
                answers["post"] = e
        idle_ws = joined(gw.port, "ann", "r")
        busy_ws = joined(gw.port, "bob", "r")
        busy_ws.send({"type": "send", "room": "r", "body": "first"})
        first = busy_ws.recv()["id"]
        check(idle_ws.recv()["id"] == first, "the first message is delivered")
        idle_http = raw_http(gw.port)
        idle_http.send(b"GET /rooms/r/messages HTTP/1.1\r\nHost: x\r\n\r\n")
        check(idle_http.response()[0] == 200, "a keep-alive request")
        # Requests that will wait: two INSERTs and the ACK batch behind a lock, then the whole
        # cluster stopped; an upload whose header is in before the S3 server stops answering.
        locker = table_lock(pg.url, "gateway_messages")
        threads = [threading.Thread(target=post)]
        threads[0].start()
        busy_ws.send({"type": "send", "room": "r", "body": "late"})
        idle_ws.send({"type": "ack", "id": first})
        wait_for(lambda: psql(pg.url, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'") == "3",
                 "the two INSERTs and the ACKs to wait for the lock")
        pg.hang()
        s3.hang()
        upload = raw_http(gw.port)
        upload.send(b"POST /attachments HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ann\r\n"
                    b"Content-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        check(upload.response()[0] == 100, "no 100 Continue")  # the header is in: the request is in progress
        upload.send(b"hello")

        signalled = time.monotonic()
        gw.proc.send_signal(signal.SIGTERM)
        check(idle_ws.close_code() == 1001, "the idle WebSocket client did not get 1001")
        check(idle_http.closed(), "the idle keep-alive connection stays open")
        closed_idle = time.monotonic() - signalled
        check(closed_idle < timeout, "idle connections closed only after %.2f s" % closed_idle)
        try:
            socket.create_connection(("127.0.0.1", gw.port), timeout=1).close()
            fail("the gateway still accepts after SIGTERM")
        except ConnectionRefusedError:
            pass
        status, _, body = upload.response()
        check((status, json.loads(body)) == (503, {"error": "the gateway is shutting down"}),
              "the waiting upload got %d %r" % (status, body))
        check(time.monotonic() - signalled >= timeout - 0.05, "the upload was cut off before the deadline")
        reply = busy_ws.recv()
        check(reply == {"type": "error", "error": "message not stored: the gateway is shutting down", "ref": None},
              "the waiting WebSocket send got %r" % reply)
        check(busy_ws.close_code() == 1001, "the busy WebSocket client did not get 1001")
        try:
            rc = gw.proc.wait(timeout=signalled + timeout + 1.0 - time.monotonic())
        except subprocess.TimeoutExpired:
            fail("the gateway did not exit within 1 s of --shutdown-timeout-ms:\n" + gw.output())
        exited = time.monotonic() - signalled
        check(rc == 0, "the gateway exited with %d:\n%s" % (rc, gw.output()))
        threads[0].join()
        check(isinstance(answers["post"], tuple) and answers["post"][:2] == (503, {"error": "the gateway is shutting down"}),
              "the waiting post got %r" % (answers["post"],))
        check("1 ACKs not written" in gw.output(), "the ACK left is not reported:\n" + gw.output())
        print("sigterm during a hang: idle closed in %.2f s, waiting requests 503, exit 0 after %.2f s"
              % (closed_idle, exited))
    finally:
        if locker:
            locker.kill()
        shut_down(gw, [pg, s3], threads)


def scenario_nul_body(args):
    """A body with NUL characters is stored and delivered byte for byte, over HTTP and WebSocket;
    a table from a gateway that stored bodies as text is converted, its rows kept."""
    db = database(os.environ["OBS_TEST_PG_URL"], "nul")
    psql(db.url, "CREATE TABLE gateway_messages (id bigserial PRIMARY KEY, room text NOT NULL, user_id text NOT NULL,"
                 " body text NOT NULL, attachment text, created_at timestamptz NOT NULL DEFAULT now());"
                 " INSERT INTO gateway_messages (room, user_id, body) VALUES ('r', 'old', 'caf\u00e9 from before')")
    gw = gateway(args.gateway, db.url, os.environ["OBS_TEST_S3_ENDPOINT"], bucket_name("nul"))
    try:
        reader = joined(gw.port, "bob", "r")
        text = "a\u0000b\u0000\u0000c"
        status, body, _ = gw.request("POST", "/rooms/r/messages", body=json.dumps({"body": text}),
                                     headers={"Authorization": "Bearer ann"})
        check(status == 201 and json.loads(body)["body"] == text, "HTTP post answered %d %r" % (status, body))
        check(reader.recv()["body"] == text, "the HTTP post is delivered shorter")
        sender = joined(gw.port, "cat", "r")
        sender.send({"type": "send", "room": "r", "body": "x\u0000y"})
        check(sender.recv()["type"] == "sent", "WebSocket send")
        check(reader.recv()["body"] == "x\u0000y", "the WebSocket send is delivered shorter")
        status, body, _ = gw.request("GET", "/rooms/r/messages")
        bodies = [m["body"] for m in json.loads(body)["messages"]]
        check(bodies == ["x\u0000y", text, "caf\u00e9 from before"], "history: %r" % bodies)
        check(psql(db.url, "SELECT string_agg(octet_length(body)::text, ',' ORDER BY id) FROM gateway_messages")
              == "17,6,3", "stored lengths")
        check(psql(db.url, "SELECT data_type FROM information_schema.columns WHERE table_name = 'gateway_messages' "
                           "AND column_name = 'body'") == "bytea", "the body column is not bytea")
        status, _, _ = gw.request("POST", "/rooms/r/messages", body=json.dumps({"body": "b", "attachment": "k\u0000"}),
                                  headers={"Authorization": "Bearer ann"})
        check(status == 400, "an attachment that is no key answered %d" % status)
        for c in (reader, sender):
            c.close()
        print("nul body: stored and delivered byte for byte over HTTP and WebSocket; old text rows kept")
    finally:
        try:
            gw.stop()
        finally:
            db.drop()


def scenario_http_protocol(args):
    """HEAD has no body, Expect: 100-continue is answered, 413 for an upload over the limit, 400 for a
    malformed chunked body, and every refusal counted as what was sent (400, 413, 426, 431, and the
    connections over --max-connections)."""
    db, gw = with_gateway(args, "proto", "--max-attachment-bytes", "1024", "--max-connections", "8")
    try:
        def counted(method, route, status, n):
            """Waits for the count: the handshake is counted once Beast has written its answer."""
            wait_for(lambda: gw.value("http_requests_total", method=method, route=route, status=str(status)) == n,
                     "http_requests_total{%s,%s,%s} == %d" % (method, route, status, n))
        c = raw_http(gw.port)
        c.send(b"HEAD /rooms/r/messages HTTP/1.1\r\nHost: x\r\n\r\nGET /rooms/r/messages HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, _ = c.response(head=True)
        check(status == 200 and int(headers["content-length"]) > 0, "HEAD answered %d %r" % (status, headers))
        status, _, body = c.response()
        check(status == 200 and int(headers["content-length"]) == len(body),
              "the answer after HEAD is misread: %d %r" % (status, body))
        c.send(b"HEAD /nowhere HTTP/1.1\r\nHost: x\r\n\r\nGET /rooms/r/messages HTTP/1.1\r\nHost: x\r\n\r\n")
        check(c.response(head=True)[0] == 404, "HEAD on no route")
        check(c.response()[0] == 200, "the answer after a HEAD 404 is misread")
        counted("HEAD", "/rooms/{room}/messages", 200, 1)

        body = json.dumps({"body": "after a pause"}).encode()
        c.send(b"POST /rooms/r/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ann\r\n"
               b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body))
        c.sock.settimeout(5)
        check(c.response()[0] == 100, "Expect: 100-continue is not answered")
        c.send(body)
        check(c.response()[0] == 201, "the post after 100 Continue")
        c.close()

        c = raw_http(gw.port)
        c.send(b"POST /attachments HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ann\r\nExpect: 100-continue\r\n"
               b"Content-Length: 2000\r\n\r\n")
        check(c.response()[0] == 413, "an upload over --max-attachment-bytes is not 413")
        c.close()
        counted("POST", "/attachments", 413, 1)
        c = raw_http(gw.port)
        c.send(b"POST /attachments HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ann\r\nTransfer-Encoding: chunked\r\n"
               b"\r\n400\r\n" + b"x" * 1024 + b"\r\n400\r\n" + b"y" * 1024 + b"\r\n0\r\n\r\n")
        check(c.response()[0] == 413, "a chunked upload over --max-attachment-bytes is not 413")
        c.close()
        counted("POST", "/attachments", 413, 2)

        c = raw_http(gw.port)
        c.send(b"POST /rooms/r/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ann\r\n"
               b"Transfer-Encoding: chunked\r\n\r\nzz\r\nnot a chunk\r\n")
        check(c.response()[0] == 400, "a malformed chunked body is not 400")
        c.close()
        counted("POST", "/rooms/{room}/messages", 400, 1)
        c = raw_http(gw.port)
        c.send(b"\x16\x03\x01garbage\r\n\r\n")
        check(c.response()[0] == 400, "garbage is not 400")
        c.close()
        c = raw_http(gw.port)
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
        check(c.response()[0] == 431, "a header over the limit is not 431")
        c.close()
        counted("OTHER", "unmatched", 400, 1)
        counted("OTHER", "unmatched", 431, 1)

        key = base64.b64encode(os.urandom(16))
        c = raw_http(gw.port)
        c.send(b"GET /ws?user=ann HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 8\r\n\r\n")
        status, headers, _ = c.response()
        check(status == 426 and headers.get("sec-websocket-version") == "13", "another version: %d" % status)
        c.close()
        c = raw_http(gw.port)
        c.send(b"GET /ws?user=ann HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               b"Sec-WebSocket-Version: 13\r\n\r\n")
        check(c.response()[0] == 400, "a handshake without a key")
        c.close()
        counted("GET", "/ws", 426, 1)
        counted("GET", "/ws", 400, 1)

        # --max-connections 8: more are answered 503 at once, closed and counted. Every connection
        # sends a request, so that each gets an answer: 200 on one let in, 503 on one refused.
        held = []
        refused = None
        for i in range(9):
            c = raw_http(gw.port)
            try:
                c.send(b"GET /rooms/r/messages HTTP/1.1\r\nHost: x\r\n\r\n")
            except OSError:
                pass  # refused and closed already; its answer is still to be read
            status, _, body = c.response()
            if status != 200:
                refused = (i, status, body)
                c.close()
                break
            held.append(c)
        check(refused is not None and refused[1] == 503 and json.loads(refused[2]) == {"error": "too many connections"},
              "no connection was refused with 503: %r" % (refused,))
        wait_for(lambda: gw.value("http_connections_refused_total") == 1, "the refused connection to be counted")
        for c in held:
            c.close()
        wait_for(lambda: gw.request("GET", "/rooms/r/messages", timeout=5)[0] == 200, "connections again")
        print("http protocol: HEAD, 100-continue, 413, 400, 426, 431 and refused connections, all counted")
    finally:
        try:
            gw.stop()
        finally:
            db.drop()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("scenario")
    p.add_argument("--gateway", required=True)
    p.add_argument("--promtool", default="")
    p.add_argument("--pg-cluster", default="")
    args = p.parse_args()
    if args.promtool.endswith("NOTFOUND"):
        args.promtool = ""
    missing = [v for v in REQUIRED_ENV if not os.environ.get(v)]
    if missing:
        fail("environment variable(s) not set: " + ", ".join(missing) + " (source the test servers' env)")
    fn = globals().get("scenario_" + args.scenario)
    check(fn is not None, "unknown scenario " + args.scenario)
    fn(args)


if __name__ == "__main__":
    main()
