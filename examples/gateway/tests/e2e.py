#!/usr/bin/env python3
"""End-to-end scenarios of obs_gateway against a real PostgreSQL and S3 server.

    e2e.py SCENARIO --gateway PATH [--promtool PATH] [--pg-cluster PATH]

Each scenario creates its own database on the shared server
(OBS_TEST_PG_URL), its own bucket on the shared S3 server
(OBS_TEST_S3_ENDPOINT), starts a gateway on ephemeral ports, and cleans up.
The outage scenarios start their own PostgreSQL cluster or s3rver instead.
Only the standard library: the WebSocket client below speaks RFC 6455 itself,
which also lets it send frames no well-behaved library would.
"""

import argparse
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
import time

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


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


# --- The gateway process ------------------------------------------------------------


class gateway:
    def __init__(self, exe, db_url, s3_endpoint, bucket, *extra):
        self.log = tempfile.NamedTemporaryFile("w+", prefix="gateway-", suffix=".log", delete=False)
        args = [exe, "--listen", "127.0.0.1:0", "--management-listen", "127.0.0.1:0",
                "--database-url", db_url, "--s3-endpoint", s3_endpoint, "--s3-bucket", bucket,
                "--s3-access-key", os.environ["OBS_TEST_S3_ACCESS_KEY"],
                "--s3-secret-key", os.environ["OBS_TEST_S3_SECRET_KEY"]] + list(extra)
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        self.port = self.management_port = None

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
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=DEADLINE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                fail("gateway did not stop on SIGTERM:\n" + self.output())
            check(rc == 0, "gateway exited with %d after SIGTERM:\n%s" % (rc, self.output()))
        if os.environ.get("E2E_KEEP_LOG"):
            print(self.output())
        os.unlink(self.log.name)

    def request(self, method, path, body=None, headers=None, management=False):
        port = self.management_port if management else self.port
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=DEADLINE)
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
        """Reads until the server closes; its close code, or None if it just hung up."""
        try:
            while True:
                self.recv()
        except ws_closed as e:
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


def with_gateway(args, tag, *extra):
    db = database(os.environ["OBS_TEST_PG_URL"], tag)
    gw = gateway(args.gateway, db.url, os.environ["OBS_TEST_S3_ENDPOINT"], bucket_name(tag), *extra)
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
    """/metrics answers only on the management port, which binds loopback by default."""
    db, gw = with_gateway(args, "mgmt")
    try:
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
    """The database goes away and comes back: 503s and unready meanwhile, then service as before."""
    root = tempfile.mkdtemp(prefix="gateway-pg-")
    os.chmod(root, 0o755)
    port = free_port()
    password = "gateway-outage"
    cluster = os.path.join(root, "pg")

    def pg(*a):
        out = subprocess.run(["bash", args.pg_cluster] + list(a), capture_output=True, text=True, timeout=120)
        check(out.returncode == 0, "pg-cluster %s failed: %s" % (a[0], out.stderr))
    pg("start", cluster, str(port), password)
    url = "host=127.0.0.1 port=%d user=postgres password=%s dbname=postgres connect_timeout=5" % (port, password)
    gw = gateway(args.gateway, url, os.environ["OBS_TEST_S3_ENDPOINT"], bucket_name("dbout"),
                 "--db-acquire-timeout-ms", "1000")
    try:
        def post(body):
            return gw.request("POST", "/rooms/r/messages", body=json.dumps({"body": body}),
                              headers={"Authorization": "Bearer ann"})[0]
        c = joined(gw.port, "ann", "r")
        check(post("before") == 201, "post before the outage")
        check(c.recv()["body"] == "before", "the post before the outage is delivered")
        wait_for(lambda: gw.request("GET", "/readyz", management=True)[0] == 200, "ready")
        pg("stop", cluster)
        check(post("during") == 503, "a post while the database is down is not 503")
        c.send({"type": "send", "room": "r", "body": "during"})
        check("database unavailable" in c.recv()["error"], "WebSocket send while down gets no error")
        c.send({"type": "ack", "id": 1})
        wait_for(lambda: gw.request("GET", "/readyz", management=True)[0] == 503, "unready while down")
        check(gw.request("GET", "/livez", management=True)[0] == 200, "still live")
        pg("start", cluster, str(port), password)
        wait_for(lambda: post("after") == 201, "posts to work again")
        while c.recv()["type"] != "message":  # the delivery of the HTTP post "after"
            pass
        wait_for(lambda: gw.request("GET", "/readyz", management=True)[0] == 200, "ready again")
        c.send({"type": "send", "room": "r", "body": "after"})
        check(c.recv()["type"] == "sent", "WebSocket send after the outage")
        wait_for(lambda: psql(url, "SELECT count(*) FROM gateway_acks") == "1", "the held ACK written after")
        c.close()
        print("database outage: 503 and unready while down, ACK kept and written after")
    finally:
        gw.stop()
        pg("stop", cluster)
        shutil.rmtree(root, ignore_errors=True)


def scenario_object_store_outage(args):
    """The S3 server goes away and comes back: 502s and unready meanwhile, uploads after."""
    s3rver = os.environ.get("OBS_S3RVER")
    check(s3rver, "OBS_S3RVER is not set (the s3rver binary)")
    root = tempfile.mkdtemp(prefix="gateway-s3-")
    port = free_port()

    def start_s3():
        p = subprocess.Popen([s3rver, "--address", "127.0.0.1", "--port", str(port), "--directory", root,
                              "--silent"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def up():
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return True
            except OSError:
                return False
        wait_for(up, "s3rver on %d" % port)
        return p
    s3 = start_s3()
    db = database(os.environ["OBS_TEST_PG_URL"], "s3out")
    gw = gateway(args.gateway, db.url, "http://127.0.0.1:%d" % port, "gateway-outage")
    try:
        def upload():
            return gw.request("POST", "/attachments", body=b"payload", headers={"Authorization": "Bearer ann"})[0]
        check(upload() == 201, "upload before the outage")
        s3.terminate()
        s3.wait(timeout=DEADLINE)
        check(upload() == 502, "upload while S3 is down is not 502")
        wait_for(lambda: gw.request("GET", "/readyz", management=True)[0] == 503, "unready while down")
        s3 = start_s3()
        wait_for(lambda: upload() == 201, "uploads to work again")
        wait_for(lambda: gw.request("GET", "/readyz", management=True)[0] == 200, "ready again")
        print("object store outage: 502 and unready while down, uploads after")
    finally:
        try:
            gw.stop()  # fails the test on a bad exit; the database goes anyway
        finally:
            db.drop()
        s3.terminate()
        s3.wait(timeout=DEADLINE)
        shutil.rmtree(root, ignore_errors=True)


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
