"""End-to-end scenarios of redis_gateway, one per ctest entry:

    python3 scenarios.py SCENARIO GATEWAY_BINARY [TOOL...]

Each runs its own gateway (own schema, own Redis keys) against the
PostgreSQL and Redis named by OBS_TEST_* and cleans up after itself. The
fault scenarios start a redis-server or a PostgreSQL cluster of their own, to
stop, restart or hang (SIGSTOP) for real, and bound what they measure (probe
latency, command timeout, shutdown) by conditions they wait for, never by
sleeping.
"""
import concurrent.futures
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

from harness import (DEADLINE, Gateway, PgCluster, RedisServer, check, env, fail, free_port, poll, psql, redis_cli,
                     samples, suffix, timed, value)

SCENARIOS = {}


def scenario(fn):
    SCENARIOS[fn.__name__] = fn
    return fn


def servers():
    return env("OBS_TEST_PG_URL"), env("OBS_TEST_REDIS_HOST"), int(env("OBS_TEST_REDIS_PORT"))


def q(s):
    return urllib.parse.quote(s, safe="")


class Run:
    """A gateway on the shared servers with one tenant; removes its keys after."""

    def __init__(self, binary, extra=(), rps=None):
        self.pg, self.rhost, self.rport = servers()
        self.gw = Gateway(binary, self.pg, "redis_gateway_t_" + suffix(), extra)
        self.org, self.inst, self.key = self.gw.tenant(self.rhost, self.rport, rps)
        self.prefix = f"redis_gateway:{suffix()}:"

    def k(self, name):
        return self.prefix + name

    def get(self, path, token="default", **kw):
        return self.gw.request("GET", path, token=self.key if token == "default" else token, **kw)

    def redis(self, *parts, token="default"):
        return self.get(f"/redis/{self.inst}/" + "/".join(q(p) for p in parts), token=token)

    def close(self):
        keys = redis_cli(self.rhost, self.rport, "--scan", "--pattern", self.prefix + "*").split()
        if keys:
            redis_cli(self.rhost, self.rport, "DEL", *keys)
        self.gw.stop()


@scenario
def routes(binary):
    r = Run(binary)
    try:
        ok = lambda res, want: check(res[0] == 200 and res[1] == {"result": want}, f"expected {want}, got {res[:2]}")
        ok(r.redis("ping"), "PONG")
        ok(r.redis("set", r.k("s"), "v1"), "OK")
        ok(r.redis("get", r.k("s")), "v1")
        ok(r.redis("exists", r.k("s")), 1)
        ok(r.redis("expire", r.k("s"), "100"), 1)
        ttl = r.redis("ttl", r.k("s"))
        check(ttl[0] == 200 and 0 < ttl[1]["result"] <= 100, f"ttl: {ttl[:2]}")
        ok(r.redis("del", r.k("s")), 1)
        ok(r.redis("get", r.k("s")), None)
        ok(r.redis("incr", r.k("n")), 1)
        ok(r.redis("incr", r.k("n")), 2)
        ok(r.redis("hset", r.k("h"), "f", "hv"), 1)
        ok(r.redis("hget", r.k("h"), "f"), "hv")
        ok(r.redis("lpush", r.k("l"), "a"), 1)
        ok(r.redis("lpop", r.k("l")), "a")
        ok(r.redis("sadd", r.k("set"), "m"), 1)
        ok(r.redis("smembers", r.k("set")), ["m"])
        # POST with a JSON command array, case-insensitive command
        s, body, _ = r.gw.request("POST", f"/redis/{r.inst}", ["set", r.k("p"), "pv"], token=r.key)
        check(s == 200 and body == {"result": "OK"}, f"POST set: {s} {body}")
        s, body, _ = r.gw.request("POST", f"/redis/{r.inst}", ["MGET", r.k("p"), r.k("none")], token=r.key)
        check(s == 200 and body == {"result": ["pv", None]}, f"POST mget: {s} {body}")
        s, body, _ = r.gw.request("POST", f"/redis/{r.inst}", ["FLUSHALL"], token=r.key)
        check(s == 400 and "unsupported" in body["error"], f"FLUSHALL refused: {s} {body}")
        s, body, _ = r.gw.request("POST", f"/redis/{r.inst}", "not json", token=r.key)
        check(s == 400 and "error" in body, f"bad body: {s} {body}")
        # a Redis error is a 400 with Redis's message
        s, body, _ = r.redis("incr", r.k("h"))
        check(s == 400 and "WRONGTYPE" in body["error"], f"WRONGTYPE: {s} {body}")

        # /api: the admin's routes and what a key may read
        gw = r.gw
        s, body, _ = gw.request("GET", "/api/organizations", token=r.key)
        check(s == 200 and [o["id"] for o in body["result"]] == [r.org], f"key lists its org: {body}")
        s, body, _ = gw.admin_req("GET", f"/api/organizations/{r.org}")
        check(s == 200 and body["result"]["id"] == r.org, f"get org: {s} {body}")
        s, body, _ = gw.request("GET", f"/api/organizations/{r.org}/instances", token=r.key)
        check(s == 200 and body["result"][0]["name"] == r.inst and "password" not in body["result"][0],
              f"instances: {body}")
        s, body, _ = gw.request("POST", f"/api/organizations/{r.org}/api-keys", {}, token=r.key)
        check(s == 403, f"a key cannot mint keys: {s}")
        s, body, _ = gw.admin_req("POST", f"/api/organizations/{r.org}/users", {"email": f"{suffix()}@example.com"})
        check(s == 201, f"create user: {s} {body}")
        s, body, _ = gw.admin_req("GET", f"/api/organizations/{r.org}/users")
        check(s == 200 and len(body["result"]) == 1, f"list users: {body}")
        s, body, _ = gw.admin_req("GET", f"/api/organizations/{r.org}/api-keys")
        check(s == 200 and body["result"][0]["key"] == r.key, f"list keys: {body}")
        s, body, _ = gw.admin_req("POST", "/api/organizations", {"name": "dup-" + r.prefix})
        s, body, _ = gw.admin_req("POST", "/api/organizations", {"name": "dup-" + r.prefix})
        check(s == 409, f"duplicate org name: {s} {body}")

        # a second tenant cannot see the first one's instance
        org2, inst2, key2 = gw.tenant(r.rhost, r.rport)
        s, body, _ = r.redis("get", r.k("x"), token=key2)
        check(s == 404, f"cross-tenant instance: {s} {body}")
        s, body, _ = gw.request("GET", f"/api/organizations/{r.org}", token=key2)
        check(s == 404, f"cross-tenant org: {s}")
        s, body, _ = gw.admin_req("DELETE", f"/api/organizations/{org2}/instances/{inst2}")
        check(s == 200, f"delete instance: {s} {body}")
        s, body, _ = gw.admin_req("DELETE", f"/api/organizations/{org2}/api-keys/{key2}")
        check(s == 200, f"delete key: {s} {body}")
        s, body, _ = gw.request("GET", "/api/organizations", token=key2)
        check(s == 401, f"deleted key: {s}")
        s, body, _ = gw.admin_req("DELETE", f"/api/organizations/{org2}")
        check(s == 200, f"delete org: {s}")
        s, body, _ = gw.admin_req("GET", f"/api/organizations/{org2}")
        check(s == 404, f"deleted org: {s}")

        # health probes, 404 and 405
        for path in ("/health", "/health/live", "/health/ready"):
            s, body, _ = gw.request("GET", path)
            check(s == 200, f"{path}: {s} {body}")
        s, body, _ = gw.request("GET", "/health")
        check(body["status"] == "healthy" and set(body["components"]) == {"database", "redis_pool"}
              and "uptime_seconds" in body and "timestamp" in body, f"/health body: {body}")
        for comp in body["components"].values():
            check({"status", "message", "response_time_ms"} <= set(comp), f"component fields: {comp}")
        s, body, _ = gw.request("GET", "/nope", token=r.key)
        check(s == 404, f"404: {s}")
        s, body, h = gw.request("PUT", "/api/organizations", token=r.key)
        check(s == 405 and h.getheader("Allow") == "GET, HEAD, POST", f"405: {s} {h.getheader('Allow')}")
    finally:
        r.close()


@scenario
def auth(binary):
    r = Run(binary)
    try:
        s, body, h = r.redis("ping", token=None)
        check(s == 401 and h.getheader("WWW-Authenticate") == "Bearer" and body == {"error": "missing API key"},
              f"no key: {s} {body}")
        s, body, _ = r.redis("ping", token="not-a-key")
        check(s == 401 and body == {"error": "invalid API key"}, f"bad key: {s} {body}")
        s, body, _ = r.gw.request("GET", "/api/organizations")
        check(s == 401, f"/api without key: {s}")
        s, body, _ = r.gw.request("GET", f"/redis/{r.inst}/ping?_token={r.key}")
        check(s == 200, f"?_token=: {s} {body}")
        s, body, _ = r.gw.request("GET", f"/redis/{r.inst}/ping", headers={"Authorization": "bearer " + r.key})
        check(s == 200, f"lower-case scheme: {s}")
        text = r.gw.scrape()
        check(value(text, "api_key_auth_failures_total") == 3, "api_key_auth_failures_total == 3")
        check(value(text, "api_key_requests_total") == 2, "api_key_requests_total == 2")
        # A repeated Authorization header: the first one counts.
        for first, second, status in ((r.key, "not-a-key", 200), ("not-a-key", r.key, 401)):
            reply = raw(r.gw.port, f"GET /redis/{r.inst}/ping HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {first}\r\n"
                                   f"Authorization: Bearer {second}\r\nConnection: close\r\n\r\n".encode())
            check(reply.startswith(f"HTTP/1.1 {status} ".encode()), f"two keys, the first {first[:9]}: {reply[:40]}")
    finally:
        r.close()


@scenario
def rate_limit(binary):
    """The seed's demonstration: 200 rapid requests of a 100 rps key."""
    r = Run(binary, ["--rate-limit-rps", "100"])
    try:
        s, premium, _ = r.gw.admin_req("POST", f"/api/organizations/{r.org}/api-keys", {"rate_limit_rps": 1000})
        check(s == 201, "premium key")
        premium = premium["result"]["key"]

        def burst(key):
            codes, retry = [], set()
            lock = threading.Lock()

            def worker(n):
                c = r.gw.conn()
                for _ in range(n):
                    st, _, h = r.gw.request("GET", "/api/organizations", token=key, conn=c)
                    with lock:
                        codes.append(st)
                        if st == 429:
                            retry.add(h.getheader("Retry-After"))
                c.close()

            start = time.monotonic()
            threads = [threading.Thread(target=worker, args=(50,)) for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            return codes, retry, time.monotonic() - start

        codes, retry, elapsed = burst(r.key)
        ok, limited = codes.count(200), codes.count(429)
        print(f"basic key: {ok} x 200, {limited} x 429 in {elapsed:.3f} s; Retry-After {retry}")
        check(ok + limited == 200, f"only 200 and 429: {codes}")
        # GCRA: a burst of 100, then 100 more per second elapsed.
        check(100 <= ok <= 100 + int(100 * elapsed) + 1, f"{ok} passed in {elapsed:.3f} s")
        check(limited > 0 and all(v and int(v) >= 1 for v in retry), f"429s carry Retry-After: {retry}")
        codes, _, elapsed = burst(premium)
        print(f"premium key: {codes.count(200)} x 200 in {elapsed:.3f} s")
        check(codes.count(200) == 200, f"the 1000 rps key passes all 200: {codes.count(429)} limited")
        text = r.gw.scrape()
        check(value(text, "http_requests_total", '{method="GET",path="/api/organizations",status="429"}') == limited,
              "429s counted under the route template")
        s, listed, _ = r.gw.admin_req("GET", f"/api/organizations/{r.org}/api-keys")
        check(s == 200, "keys listed")
        ids = {k["key"]: k["id"] for k in listed["result"]}
        basic, premium_id = ids[r.key], ids[premium]
        check(value(text, "api_key_rate_limited_total", f'{{api_key_id="{basic}"}}') == limited,
              "429s counted under the refused key's id")
        check(f'api_key_id="{premium_id}"' not in text, "a key never refused has no series")
        check(r.key not in text, "no key appears on /metrics")
        s, _, _ = r.gw.admin_req("DELETE", f"/api/organizations/{r.org}/api-keys/{r.key}")
        check(s == 200, "basic key deleted")
        check(f'api_key_id="{basic}"' not in r.gw.scrape(), "a deleted key's series goes with it")
    finally:
        r.close()


@scenario
def metrics_exact(binary):
    r = Run(binary)
    try:
        for i in range(3):
            r.redis("set", r.k(f"m{i}"), "v")
        r.redis("get", r.k("m0"))
        r.redis("get", r.k("missing"))
        r.redis("incr", r.k("m0"))  # WRONGTYPE? no: "v" is not an integer: a Redis error
        r.redis("ping", token=None)
        r.redis("ping", token="bogus")
        r.gw.request("GET", "/no/such/path", token=r.key)
        r.gw.admin_req("POST", f"/api/organizations/{r.org}/users", {"email": f"{suffix()}@example.com"})
        text = r.gw.scrape()
        want = {
            ("http_requests_total", '{method="GET",path="/redis/{instance}/set/{key}/{value}",status="200"}'): 3,
            ("http_requests_total", '{method="GET",path="/redis/{instance}/get/{key}",status="200"}'): 2,
            ("http_requests_total", '{method="GET",path="/redis/{instance}/incr/{key}",status="400"}'): 1,
            ("http_request_errors_total", '{method="GET",path="/redis/{instance}/incr/{key}",status="400"}'): 1,
            ("http_requests_total", '{method="GET",path="/redis/{instance}/ping",status="401"}'): 2,
            ("http_requests_total", '{method="GET",path="unmatched",status="404"}'): 1,
            ("http_requests_total", '{method="POST",path="/api/organizations",status="201"}'): 1,
            ("http_requests_total", '{method="POST",path="/api/organizations/{org}/users",status="201"}'): 1,
            ("http_request_duration_seconds_count", '{method="GET",path="/redis/{instance}/set/{key}/{value}"}'): 3,
            ("redis_commands_total", '{command="SET"}'): 3,
            ("redis_commands_total", '{command="GET"}'): 2,
            ("redis_commands_total", '{command="INCR"}'): 1,
            ("redis_command_errors_total", '{command="INCR"}'): 1,
            ("redis_command_duration_seconds_count", '{command="SET"}'): 3,
            ("redis_command_duration_seconds_bucket", '{command="SET",le="+Inf"}'): 3,
            ("api_key_requests_total", ""): 6,
            ("api_key_auth_failures_total", ""): 2,
            ("organizations_total", ""): 1,
            ("redis_instances_total", ""): 1,
            ("users_total", ""): 1,
            ("database_queries_total", '{type="migrate"}'): 1,
            ("database_queries_total", '{type="insert"}'): 4,  # org, instance, key, user
            ("database_queries_total", '{type="select"}'): 4,  # the four tables at load
        }
        for (name, labels), v in want.items():
            got = value(text, name, labels)
            check(got == v, f"{name}{labels}: want {v}, got {got}")
        check(value(text, "redis_connections_active") >= 1, "redis_connections_active >= 1")
        check(samples(text, "redis_command_errors_total").keys() == {'{command="INCR"}'}, "only INCR failed")
        check('redis_command_duration_seconds_bucket{command="SET",le="0.001"}' in text, "Redis buckets from 0.1 ms")
        for line in text.splitlines():
            check("redis_gateway:" not in line and r.inst not in line, f"a key or instance leaked: {line}")
    finally:
        r.close()


@scenario
def promtool(binary, promtool_bin):
    r = Run(binary)
    try:
        r.redis("set", r.k("a"), "1")
        r.redis("get", r.k("a"))
        r.redis("ping", token=None)
        r.gw.request("GET", "/health")
        text = r.gw.scrape()
        p = subprocess.run([promtool_bin, "check", "metrics"], input=text, capture_output=True, text=True)
        # The seed names three gauges *_total; promtool's lint flags exactly
        # those (see README, "Deviations"). Anything else fails the test.
        seed_gauges = {f'{n} non-counter metrics should not have "_total" suffix'
                       for n in ("organizations_total", "redis_instances_total", "users_total")}
        findings = {l.strip() for l in (p.stdout + p.stderr).splitlines() if l.strip()}
        check(findings == seed_gauges, f"promtool check metrics: {findings - seed_gauges or findings}")
    finally:
        r.close()


@scenario
def bogus_paths(binary):
    """10,000 distinct unmatched paths leave one series; so do their methods."""
    r = Run(binary)
    try:
        c = r.gw.conn()
        for i in range(10_000):
            path = f"/scan/{i}/{suffix()}" if i % 2 else f"/redis/{r.inst}/get/k{i}/extra/{i}"
            s, _, _ = r.gw.request("GET" if i % 3 else "BREW", path, token=r.key, conn=c)
            check(s == 404, f"{path}: {s}")
        c.close()
        text = r.gw.scrape()
        check(value(text, "http_requests_total", '{method="GET",path="unmatched",status="404"}')
              + value(text, "http_requests_total", '{method="OTHER",path="unmatched",status="404"}') == 10_000,
              "every bogus request counted as unmatched")
        series = [l for l in text.splitlines() if l and not l.startswith("#")]
        print(f"{len(series)} samples after 10,000 bogus paths")
        unmatched = [k for k in samples(text, "http_requests_total") if 'path="unmatched"' in k]
        check(len(unmatched) == 2, f"bogus paths make two series (GET and OTHER): {unmatched}")
        check(len(samples(text, "http_requests_total")) <= 8, "http_requests_total stays a handful of series")
        check(len(series) < 300, f"scrape stays small: {len(series)} samples")
    finally:
        r.close()


def raw(port, data):
    """Sends `data` (the server may close before taking it all) and returns
    what the server answered."""
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as sock:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        reply = b""
        try:
            while chunk := sock.recv(65536):
                reply += chunk
        except ConnectionResetError:
            pass
        return reply


@scenario
def limits(binary):
    """413 for huge keys, values and bodies, 431 for huge headers, 400 for
    malformed HTTP; binary and UTF-8 keys round-trip; nothing crashes."""
    r = Run(binary)
    try:
        s, body, _ = r.redis("get", "k" * 5000)
        check(s == 413 and "key" in body["error"], f"huge key: {s} {body}")
        s, body, _ = r.gw.request("POST", f"/redis/{r.inst}", ["SET", r.k("big"), "v" * (600 * 1024)], token=r.key)
        check(s == 413 and "value" in body["error"], f"huge value: {s} {body}")
        reply = raw(r.gw.port, f"POST /redis/{r.inst} HTTP/1.1\r\nAuthorization: Bearer {r.key}\r\n"
                    f"Content-Length: {2 << 20}\r\n\r\n".encode() + b"[" * (2 << 20))
        check(reply.startswith(b"HTTP/1.1 413"), f"huge body: {reply[:40]!r}")
        reply = raw(r.gw.port, b"GET /health HTTP/1.1\r\nX-Pad: " + b"p" * (100 * 1024) + b"\r\n\r\n")
        check(reply.startswith(b"HTTP/1.1 431"), f"huge header: {reply[:40]!r}")
        for bad in (b"GARBAGE\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"GET /health HTTP/1.1\r\nContent-Length: x\r\n\r\n",
                    b"\x00\xff\xfe\r\n\r\n"):
            reply = raw(r.gw.port, bad)
            check(reply.startswith(b"HTTP/1.1 400"), f"{bad!r}: {reply[:40]!r}")
        # a client that goes away mid-request
        with socket.create_connection(("127.0.0.1", r.gw.port), timeout=DEADLINE) as sock:
            sock.sendall(b"POST /redis/x HTTP/1.1\r\nContent-Length: 100\r\n\r\nabc")
        utf8 = r.k("ключ-🔑")
        s, body, _ = r.redis("set", utf8, "значение")
        check(s == 200, f"utf-8 set: {s} {body}")
        s, body, _ = r.redis("get", utf8)
        check(body == {"result": "значение"}, f"utf-8 get: {body}")
        s, body, _ = r.gw.request("GET", f"/redis/{r.inst}/set/{q(r.k(''))}%00%01%ff/%ff%fe", token=r.key)
        check(s == 200, f"binary set: {s} {body}")
        s, body, _ = r.gw.request("GET", f"/redis/{r.inst}/get/{q(r.k(''))}%00%01%ff", token=r.key)
        check(s == 200 and body == {"result": "\ufffd\ufffd"}, f"binary value comes back replaced: {body}")
        s, body, _ = r.gw.request("GET", f"/redis/{r.inst}/exists/{q(r.k(''))}%00%01%ff", token=r.key)
        check(body == {"result": 1}, f"the binary key exists byte for byte: {body}")
        # redis-cli cannot name it at cleanup: let it expire instead
        r.gw.request("GET", f"/redis/{r.inst}/expire/{q(r.k(''))}%00%01%ff/60", token=r.key)
        s, body, _ = r.gw.request("GET", f"/redis/{r.inst}/get/%zz", token=r.key)
        check(s == 400, f"bad percent-encoding: {s}")
        s, _, _ = r.gw.request("GET", "/health/live")
        check(s == 200 and r.gw.alive(), "still serving")
    finally:
        r.close()


@scenario
def client_timeout(binary):
    """--client-timeout-ms: a client that stops mid-request, and one that leaves its connection idle after an
    answer, are closed once it has passed; one that sends a request within it each time is served on."""
    r = Run(binary, ["--client-timeout-ms", "1000"])
    try:
        req = b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n"
        stalled = socket.create_connection(("127.0.0.1", r.gw.port), timeout=DEADLINE)
        idle = socket.create_connection(("127.0.0.1", r.gw.port), timeout=DEADLINE)
        stalled.sendall(req[:-2])  # the header never ends
        sent = time.monotonic()
        idle.sendall(req)
        check(idle.recv(65536).startswith(b"HTTP/1.1 200"), "the idle connection's request answered")
        closed = stalled.recv(1)
        waited = time.monotonic() - sent
        check(closed == b"", f"the stalled connection closed: {closed!r}")
        check(0.9 <= waited < DEADLINE, f"after the timeout: {waited:.2f} s")
        with socket.create_connection(("127.0.0.1", r.gw.port), timeout=DEADLINE) as busy:
            for i in range(6):  # 1.8 s in all, each request 0.3 s after the last answer
                busy.sendall(req)
                check(busy.recv(65536).startswith(b"HTTP/1.1 200"), f"request {i} on the busy connection")
                time.sleep(0.3)
        check(idle.recv(1) == b"", "the idle connection closed")
        s, _, _ = r.gw.request("GET", "/health/live")
        check(s == 200 and r.gw.alive(), "still serving")
    finally:
        r.close()


@scenario
def concurrency(binary):
    """1,000 connections open at once, each answered, on four I/O threads: each thread's pipelines and
    series caches, one registry and one rate limiter, exact counts (TSan's scenario, too)."""
    r = Run(binary, ["--threads", "4"], rps=1_000_000)
    try:
        req = (f"GET /redis/{r.inst}/ping HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {r.key}\r\n"
               "Connection: close\r\n\r\n").encode()
        socks = [socket.create_connection(("127.0.0.1", r.gw.port), timeout=DEADLINE) for _ in range(1000)]
        for sock in socks:
            sock.sendall(req)
        ok = 0
        for sock in socks:
            data = b""
            while True:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
            ok += data.startswith(b"HTTP/1.1 200") and b'"PONG"' in data
            sock.close()
        check(ok == 1000, f"{ok} of 1000 connections answered 200")
        text = r.gw.scrape()
        check(value(text, "http_requests_total", '{method="GET",path="/redis/{instance}/ping",status="200"}') == 1000,
              "1000 pings counted")
    finally:
        r.close()


@scenario
def redis_down(binary):
    """Redis stopped: the retries are logged, requests get a plain 503, /health is unhealthy, errors are counted;
    Redis back: the next request succeeds."""
    pg, _, _ = servers()
    redis = RedisServer()
    gw = Gateway(binary, pg, "redis_gateway_t_" + suffix())
    try:
        org, inst, key = gw.tenant("127.0.0.1", redis.port)
        path = f"/redis/{inst}/set/k/v"
        s, body, _ = gw.request("GET", path, token=key)
        check(s == 200, f"before: {s} {body}")
        redis.stop()
        # The connection died with the server; requests wait for a new one
        # while the retry loop runs, and get a 503 that names nothing internal.
        failed = []

        def gave_up():
            s, body, _ = gw.request("GET", path, token=key)
            check(s == 503 and body == {"error": "redis unavailable"}, f"while down: {s} {body}")
            failed.append(s)
            return len(failed) >= 2 and "connect attempt 3/3 failed" in gw.log()
        poll(gave_up, "the retry loop's third attempt")
        log = gw.log()
        for a in (1, 2, 3):
            check(f"(127.0.0.1:{redis.port}): connect attempt {a}/3 failed: Connection refused" in log,
                  f"attempt {a}/3 logged with the detail: {log[-1500:]}")
        s, body, _ = gw.request("GET", "/health")
        check(s == 503 and body["status"] == "unhealthy" and body["components"]["redis_pool"]["status"] == "unhealthy"
              and body["components"]["redis_pool"]["message"] == "1 of 1 instances unreachable"
              and body["components"]["database"]["status"] == "healthy", f"/health while down: {s} {body}")
        s, _, _ = gw.request("GET", "/health/ready")
        check(s == 503, f"/health/ready while down: {s}")
        text = gw.scrape()
        check(value(text, "redis_command_errors_total", '{command="SET"}') == len(failed), "errors counted")
        redis.start()
        s, body, _ = gw.request("GET", path, token=key)
        check(s == 200, f"the first request after the restart: {s} {body}")
        s, body, _ = gw.request("GET", "/health")
        check(s == 200 and body["status"] == "healthy", f"/health after: {s} {body}")
    finally:
        gw.stop()
        redis.stop()


@scenario
def pipelined(binary):
    """Every command of an I/O thread goes over its one pipelined connection to the instance, the first one
    included (it waits for the connection to open); the health checks have a connection of their own."""
    pg, _, _ = servers()
    redis = RedisServer()
    gw = Gateway(binary, pg, "redis_gateway_t_" + suffix())
    try:
        org, inst, key = gw.tenant("127.0.0.1", redis.port)
        c = gw.conn()
        s, body, _ = gw.request("GET", f"/redis/{inst}/set/k/v", token=key, conn=c)
        check(s == 200 and body == {"result": "OK"}, f"the first command: {s} {body}")
        for i in range(20):
            s, body, _ = gw.request("GET", f"/redis/{inst}/incr/n", token=key, conn=c)
            check(s == 200 and body == {"result": i + 1}, f"incr {i}: {s} {body}")
        mine = redis.clients()
        check([(cl.get("name"), cl["cmd"]) for cl in mine] == [("redis_gateway-pipeline", "incr")],
              f"one connection, pipelined: {mine}")
        s, _, _ = gw.request("GET", "/health")
        check(s == 200, "/health")
        names = sorted(cl.get("name") for cl in redis.clients())
        check(names == ["redis_gateway-health", "redis_gateway-pipeline"], f"the health checks' own: {names}")
        text = gw.scrape()
        check(value(text, "redis_commands_total", '{command="INCR"}') == 20, "pipelined commands are counted")
        check(value(text, "redis_command_duration_seconds_count", '{command="INCR"}') == 20, "and timed")
        check(samples(text, "redis_commands_total").keys() == {'{command="SET"}', '{command="INCR"}'},
              "the health checks' PINGs are not the tenants' commands")
        check(value(text, "redis_connections_active") == 2, "every connection counted")
    finally:
        gw.stop()
        redis.stop()


@scenario
def redis_password(binary):
    """An instance's password is sent with AUTH; a wrong one fails the retries."""
    pg, _, _ = servers()
    redis = RedisServer(password="pw-" + suffix())
    gw = Gateway(binary, pg, "redis_gateway_t_" + suffix(), ["--retry-delay-ms", "100"])
    try:
        s, org, _ = gw.admin_req("POST", "/api/organizations", {"name": "o"})
        oid = org["result"]["id"]
        for name, pw in (("good", redis.password), ("bad", "wrong")):
            s, body, _ = gw.admin_req("POST", f"/api/organizations/{oid}/instances",
                                      {"name": name, "port": redis.port, "password": pw})
            check(s == 201, f"instance {name}: {s} {body}")
        s, body, _ = gw.admin_req("GET", "/redis/good/set/k/v")
        check(s == 200 and body == {"result": "OK"}, f"right password: {s} {body}")
        s, body, _ = gw.admin_req("GET", "/redis/bad/get/k")
        check(s == 503 and body == {"error": "redis unavailable"}, f"wrong password: {s} {body}")
        poll(lambda: "bad (127.0.0.1:%d): connect attempt 3/3 failed: AUTH" % redis.port in gw.log(),
             "the AUTH failures logged")
        s, body, _ = gw.request("GET", "/health")
        check(s == 200 and body["components"]["redis_pool"]["status"] == "degraded", f"one of two down: {s} {body}")
    finally:
        gw.stop()
        redis.stop()


@scenario
def pg_down(binary, pg_cluster):
    """PostgreSQL restarted: the pooled connections that died while idle are never used, so readiness and /api
    answer right the first time. PostgreSQL down: /health/ready 503, /api 503, both naming no address, Redis
    routes go on from the cache; back: ready again at once."""
    _, rhost, rport = servers()
    pg = PgCluster(pg_cluster)
    gw = Gateway(binary, pg.url, "redis_gateway")
    prefix = f"redis_gateway:{suffix()}:"
    try:
        org, inst, key = gw.tenant(rhost, rport)
        for _ in range(3):
            s, _, _ = gw.request("GET", "/health/ready")
            check(s == 200, f"ready: {s}")
        # A restart between two requests: every pooled connection died idle.
        pg.stop()
        pg.start()
        s, body, _ = gw.request("GET", "/health/ready")
        check(s == 200, f"the first readiness probe after a restart: {s} {body}")
        s, body, _ = gw.admin_req("POST", "/api/organizations", {"name": "after-restart"})
        check(s == 201, f"the first /api write after a restart: {s} {body}")

        pg.stop()
        s, body, _ = gw.request("GET", "/health/ready")
        check(s == 503, f"ready with PostgreSQL down: {s} {body}")
        s, body, _ = gw.request("GET", "/health")
        check(s == 503 and body["components"]["database"] == {**body["components"]["database"], "status": "unhealthy",
                                                              "message": "database unreachable"}, f"/health: {body}")
        s, body, _ = gw.request("GET", f"/redis/{inst}/set/{q(prefix + 'k')}/v", token=key)
        check(s == 200, f"Redis routes still work: {s} {body}")
        s, body, _ = gw.admin_req("POST", "/api/organizations", {"name": "x"})
        check(s == 503 and body == {"error": "database unavailable"}, f"/api while down: {s} {body}")
        # What a client sees names no address; the log has the detail.
        for path in ("/health", "/health/ready"):
            _, text, _ = gw.request("GET", path)
            for leak in ("127.0.0.1", str(pg.port), "onnection refused", "connection to server"):
                check(leak not in json.dumps(text), f"{path} names {leak!r}: {text}")
        check(f'connection to server at "127.0.0.1", port {pg.port} failed' in gw.log(), "the detail is logged")
        text = gw.scrape()
        check(value(text, "database_query_errors_total", '{type="ping"}') >= 2, "ping errors counted")
        check(value(text, "database_query_errors_total", '{type="insert"}') == 1, "the failed insert counted")
        pg.start()
        s, body, _ = gw.request("GET", "/health/ready")
        check(s == 200, f"ready at once after PostgreSQL is back: {s} {body}")
    finally:
        gw.stop(drop_schema=False)
        pg.remove()
        keys = redis_cli(rhost, rport, "--scan", "--pattern", prefix + "*").split()
        if keys:
            redis_cli(rhost, rport, "DEL", *keys)


@scenario
def metrics_port(binary):
    """--metrics-listen moves /metrics (with /health/live) off the API port."""
    r = Run(binary, ["--metrics-listen", "127.0.0.1:0"])
    try:
        check(r.gw.metrics_port, "metrics port printed")
        s, _, _ = r.gw.request("GET", "/metrics")
        check(s == 404, f"/metrics on the API port: {s}")
        r.redis("ping")
        text = r.gw.scrape(port=r.gw.metrics_port)
        check(value(text, "http_requests_total", '{method="GET",path="/metrics",status="404"}') == 0,
              "a 404 on /metrics is unmatched")
        check(value(text, "http_requests_total", '{method="GET",path="unmatched",status="404"}') == 1, "404 counted")
        s, _, _ = r.gw.request("GET", "/health/live", port=r.gw.metrics_port)
        check(s == 200, "liveness on the management port")
        # A request's W3C trace id is its duration's exemplar, in OpenMetrics; protobuf, which
        # carries the native buckets, is offered to Prometheus.
        trace = "4bf92f3577b34da6a3ce929d0e0e4736"
        r.get(f"/redis/{r.inst}/ping", headers={"traceparent": f"00-{trace}-00f067aa0ba902b7-01"})
        s, om, _ = r.gw.request("GET", "/metrics", port=r.gw.metrics_port,
                                headers={"Accept": "application/openmetrics-text; version=1.0.0"})
        traced = [l for l in om.splitlines()
                  if l.startswith("http_request_duration_seconds_bucket") and f'trace_id="{trace}"' in l]
        check(s == 200 and len(traced) == 1, f"the trace id is one bucket's exemplar: {traced}")
        s, _, h = r.gw.request("GET", "/metrics", port=r.gw.metrics_port, headers={
            "Accept": "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"})
        check(s == 200 and "application/vnd.google.protobuf" in h.getheader("Content-Type", ""), "protobuf offered")
        # The upstream probes stay on the API port, where they cannot hold up
        # a scrape.
        for path in ("/health", "/health/ready"):
            s, _, _ = r.gw.request("GET", path, port=r.gw.metrics_port)
            check(s == 404, f"{path} on the management port: {s}")
            s, _, _ = r.gw.request("GET", path)
            check(s == 200, f"{path} on the API port: {s}")
    finally:
        r.close()


@scenario
def remote_write(binary):
    """--remote-write-url pushes the metrics as well: a remote_write request arrives at once, and the last
    one at exit, with the spec's headers and the gateway's own series in it."""
    import http.server
    import threading
    seen = []

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            seen.append((self.headers.get("Content-Encoding"), self.headers.get("Content-Type"),
                         self.headers.get("X-Prometheus-Remote-Write-Version"), len(body)))
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{receiver.server_address[1]}/api/v1/write"
        r = Run(binary, ["--remote-write-url", url])
        try:
            deadline = time.monotonic() + 10
            while not seen and time.monotonic() < deadline:
                time.sleep(0.1)
            check(seen, "no remote_write request within 10 s of the start")
        finally:
            r.close()
        check(len(seen) >= 2, f"the last push at exit: {len(seen)} requests")
        for enc, ctype, version, size in seen:
            check(enc == "snappy" and ctype == "application/x-protobuf" and version == "0.1.0" and size > 100,
                  f"a remote_write request: {enc} {ctype} {version} {size} bytes")
    finally:
        receiver.shutdown()


@scenario
def accept_errors(binary):
    """Out of descriptors (a low RLIMIT_NOFILE), the listener counts its accept errors, logs them once per burst,
    backs off instead of spinning, and accepts again once descriptors free up."""
    pg, _, _ = servers()
    gw = Gateway(binary, pg, "redis_gateway_t_" + suffix(), max_files=64)
    socks = []
    try:
        check(samples(gw.scrape(), "http_accept_errors_total") == {"": 0.0}, "http_accept_errors_total is 0 at first")
        # More connections than the gateway has descriptors left: the kernel
        # completes them all, and the gateway cannot accept the last ones.
        socks = [socket.create_connection(("127.0.0.1", gw.port), timeout=DEADLINE) for _ in range(80)]
        poll(lambda: "redis_gateway: accept failed: Too many open files; retrying" in gw.log(), "the accept error")
        for sock in socks:
            sock.close()
        socks = []
        # Accepting resumes: the scrape itself gets through.
        errors = poll(lambda: gw.count("http_accept_errors_total"), "a scrape after the burst")
        check(gw.log().count("accept failed") == 1, "one log line for the burst")
        poll(lambda: "accepting again after" in gw.log(), "the end of the burst logged")
        # Backing off from 10 ms to 1 s: a handful of errors, where a spin makes thousands.
        check(1 <= errors <= 50, f"{errors} accept errors counted")
        s, _, _ = gw.request("GET", "/health/live")
        check(s == 200, "serving again")
    finally:
        for sock in socks:
            sock.close()
        gw.stop()


@scenario
def redis_restart(binary):
    """Redis restarted: the connections that died while idle (each I/O thread's, the health checks') are
    replaced before use, so once Redis answers again no request fails."""
    pg, _, _ = servers()
    redis = RedisServer()
    gw = Gateway(binary, pg, "redis_gateway_t_" + suffix(), ["--threads", "2"])
    try:
        org, inst, key = gw.tenant("127.0.0.1", redis.port)
        # Four keep-alive connections: the listener deals them to both I/O threads.
        conns = [gw.conn() for _ in range(4)]
        for c in conns:
            s, body, _ = gw.request("GET", f"/redis/{inst}/set/k/v", token=key, conn=c)
            check(s == 200, f"before: {s} {body}")
        s, _, _ = gw.request("GET", "/health")
        check(s == 200, f"/health before: {s}")
        poll(lambda: len(redis.clients()) == 3, "two pipelined connections and the health checks' one")
        redis.restart()
        for i in range(40):
            c = conns[i % 4] if i % 2 else None
            s, body, _ = gw.request("GET", f"/redis/{inst}/incr/n", token=key, conn=c)
            check(s == 200 and body == {"result": i + 1}, f"request {i} after the restart: {s} {body}")
        for path in ("/health", "/health/ready"):
            s, body, _ = gw.request("GET", path)
            check(s == 200, f"{path} after the restart: {s} {body}")
        check(value(gw.scrape(), "redis_command_errors_total", '{command="INCR"}') == 0, "no command failed")
    finally:
        gw.stop()
        redis.stop()


@scenario
def tenant_isolation(binary):
    """An instance deleted, and another organization's created under the same name at another Redis: the first
    one's connections close with it, and every command for the new one reaches the new Redis."""
    pg, _, _ = servers()
    old, new = RedisServer(), RedisServer()
    gw = Gateway(binary, pg, "redis_gateway_t_" + suffix(), ["--threads", "2"])
    try:
        first, _, key1 = gw.tenant("127.0.0.1", old.port, instance="shared")
        conns = [gw.conn() for _ in range(2)]  # one on each I/O thread
        for c in conns:
            s, body, _ = gw.request("GET", "/redis/shared/set/k/first", token=key1, conn=c)
            check(s == 200, f"first tenant's SET: {s} {body}")
        gw.request("GET", "/health")
        poll(lambda: len(old.clients()) == 3, "both pipelined connections and the health checks' one")

        s, body, _ = gw.admin_req("DELETE", f"/api/organizations/{first}/instances/shared")
        check(s == 200, f"delete: {s} {body}")

        _, _, key2 = gw.tenant("127.0.0.1", new.port, instance="shared")
        for i, c in enumerate(conns + [None]):
            s, body, _ = gw.request("GET", f"/redis/shared/set/k{i}/second", token=key2, conn=c)
            check(s == 200, f"second tenant's SET {i}: {s} {body}")
        s, body, _ = gw.request("GET", "/redis/shared/get/k", token=key2, conn=conns[0])
        check(s == 200 and body == {"result": None}, f"the first tenant's data is not the second's: {body}")
        for i in range(3):
            check(redis_cli("127.0.0.1", new.port, "GET", f"k{i}").strip() == "second", f"k{i} reached the new Redis")
            check(redis_cli("127.0.0.1", old.port, "EXISTS", f"k{i}").strip() == "0", f"k{i} missed the old Redis")
        s, body, _ = gw.request("GET", "/redis/shared/get/k", token=key1, conn=conns[1])
        check(s == 404, f"the first tenant no longer reaches 'shared': {s} {body}")
        check(old.clients() == [], f"no connection outlived the deleted instance: {old.clients()}")
    finally:
        gw.stop()
        old.stop()
        new.stop()


class Hammers:
    """Threads that each send one request over and over on a keep-alive connection, recording
    (status, seconds) in `results`, until stop()."""

    def __init__(self, gw):
        self.gw = gw
        self.results = []
        self.stopping = threading.Event()
        self.threads = []

    def start(self, n, path, token, method="GET", body=None):
        for _ in range(n):
            t = threading.Thread(target=self._run, args=(path, token, method, body))
            t.start()
            self.threads.append(t)

    def _run(self, path, token, method, body):
        c = self.gw.conn()
        while not self.stopping.is_set():
            try:
                took, (status, _, _) = timed(self.gw.request, method, path, body, token=token, conn=c)
                self.results.append((status, took))
            except (OSError, http.client.HTTPException):
                c.close()
                c = self.gw.conn()
        c.close()

    def statuses(self):
        return [st for st, _ in self.results]

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join()


def refused(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def check_latencies(gw, n, bounds):
    """Sends each path of `bounds` (path: (seconds, status)) `n` times; each answer comes within its bound, with
    its status."""
    for path, (bound, want) in bounds.items():
        got = [timed(gw.request, "GET", path) for _ in range(n)]
        worst = max(took for took, _ in got)
        print(f"{path}: worst {worst * 1000:.1f} ms of {n}")
        check(worst < bound and all(r[0] == want for _, r in got), f"{path}: {[(t, r[0]) for t, r in got]}")


@scenario
def probes_while_retrying(binary):
    """Redis down and its commands retrying: /health/live and /metrics answer within 100 ms, /api within
    500 ms, /health within --health-timeout-ms; nothing waits for the retry loops."""
    pg, _, _ = servers()
    redis = RedisServer()
    gw = Gateway(binary, pg, "redis_gateway_t_" + suffix(), ["--workers", "2", "--health-timeout-ms", "500"])
    hammers = Hammers(gw)
    try:
        org, inst, key = gw.tenant("127.0.0.1", redis.port, rps=1_000_000)
        redis.stop()
        hammers.start(16, f"/redis/{inst}/get/k", key)
        poll(lambda: "connect attempt 2/3 failed" in gw.log() and 503 in hammers.statuses(),
             "the retry loop, and the requests failing")
        check_latencies(gw, 10, {"/health/live": (0.1, 200), "/metrics": (0.1, 200), "/health": (0.75, 503),
                                 "/health/ready": (0.75, 503)})
        got = [timed(gw.request, "GET", "/api/organizations", token=gw.admin) for _ in range(10)]
        check(all(took < 0.5 and r[0] == 200 for took, r in got), f"/api: {[(t, r[0]) for t, r in got]}")
    finally:
        hammers.stop()
        gw.stop()
        redis.stop()


@scenario
def probes_while_hung(binary, pg_cluster):
    """Every upstream hung (SIGSTOP: three Redis instances and PostgreSQL): /health/live and /metrics answer
    within 100 ms, /health and /health/ready within --health-timeout-ms plus 250 ms, checking the upstreams
    in parallel; nothing queues behind the hung requests."""
    pg = PgCluster(pg_cluster)
    redises = [RedisServer() for _ in range(3)]
    gw = Gateway(binary, pg.url, "redis_gateway", ["--health-timeout-ms", "500"])
    hammers = Hammers(gw)
    try:
        s, org, _ = gw.admin_req("POST", "/api/organizations", {"name": "o"})
        oid = org["result"]["id"]
        for i, r in enumerate(redises):
            gw.admin_req("POST", f"/api/organizations/{oid}/instances", {"name": f"i{i}", "port": r.port})
        s, body, _ = gw.request("GET", "/health")
        check(s == 200, f"/health before: {s} {body}")
        pg.pause()
        for r in redises:
            r.pause()
        for i in range(3):
            hammers.start(2, f"/redis/i{i}/get/k", gw.admin)
        hammers.start(3, f"/api/organizations/{oid}/users", gw.admin, "POST", {"email": "u@example.com"})
        check_latencies(gw, 5, {"/health/live": (0.1, 200), "/metrics": (0.1, 200), "/health": (0.75, 503),
                                "/health/ready": (0.75, 503)})
        s, body, _ = gw.request("GET", "/health")
        check(body["components"]["redis_pool"]["message"] == "3 of 3 instances unreachable"
              and body["components"]["database"]["status"] == "unhealthy", f"/health while hung: {body}")
    finally:
        pg.resume()
        for r in redises:
            r.resume()
        hammers.stop()
        gw.stop(drop_schema=False)
        pg.remove()
        for r in redises:
            r.stop()


@scenario
def command_timeout(binary):
    """A hung Redis (SIGSTOP): a command fails with 503 once --redis-timeout-ms has passed since it arrived, not
    later (it took up to twice that, or the retry loop's seconds); commands flow again when Redis does. The I/O
    threads busy-poll, so the deadlines' timers fire from their polls as from their sleeps."""
    pg, _, _ = servers()
    redis = RedisServer()
    gw = Gateway(binary, pg, "redis_gateway_t_" + suffix(),
                 ["--redis-timeout-ms", "800", "--threads", "2", "--busy-poll-us", "50"])
    hammers = Hammers(gw)
    try:
        org, inst, key = gw.tenant("127.0.0.1", redis.port, rps=1_000_000)
        hammers.start(4, f"/redis/{inst}/incr/n", key)
        poll(lambda: hammers.statuses().count(200) >= 40, "commands to flow")
        redis.pause()
        poll(lambda: hammers.statuses().count(503) >= 12, "a dozen commands to time out")
        failed = [took for st, took in hammers.results if st == 503]
        print(f"503s after {min(failed) * 1000:.0f} to {max(failed) * 1000:.0f} ms")
        check(all(0.5 <= took < 1.0 for took in failed), f"each 503 within 800 ms and a little: {failed}")
        check(set(hammers.statuses()) <= {200, 503}, f"only 200 and 503: {set(hammers.statuses())}")
        redis.resume()
        before = len(hammers.results)
        poll(lambda: 200 in hammers.statuses()[before:], "commands to flow again")
    finally:
        redis.resume()
        hammers.stop()
        gw.stop()
        redis.stop()


@scenario
def sigterm(binary, pg_cluster):
    """SIGTERM during an outage (Redis and PostgreSQL hung): the listener closes, idle connections close, the
    requests waiting on Redis and on PostgreSQL get 503 at --shutdown-timeout-ms, and the gateway exits 0, its
    busy-polling I/O threads stopped."""
    pg = PgCluster(pg_cluster)
    redis = RedisServer()
    gw = Gateway(binary, pg.url, "redis_gateway",
                 ["--shutdown-timeout-ms", "1500", "--redis-timeout-ms", "60000", "--db-timeout-ms", "60000",
                  "--busy-poll-us", "50"])
    try:
        org, inst, key = gw.tenant("127.0.0.1", redis.port)
        idle = gw.conn()
        s, _, _ = gw.request("GET", f"/redis/{inst}/ping", token=key, conn=idle)
        check(s == 200, "a keep-alive connection, now idle")
        admitted = gw.count("api_key_requests_total")
        inserts = gw.count("database_queries_total", '{type="insert"}')
        redis.pause()
        pg.pause()
        answers = {}

        def ask(name, method, path, body, token):
            c = gw.conn()
            try:
                took, (status, reply, h) = timed(gw.request, method, path, body, token=token, conn=c)
                answers[name] = (status, reply, took, h.getheader("Connection"))
            except (OSError, http.client.HTTPException) as e:
                answers[name] = (None, repr(e), None, None)
        waiting = [threading.Thread(target=ask, args=(f"redis{i}", "GET", f"/redis/{inst}/get/k", None, key))
                   for i in range(3)]
        waiting.append(threading.Thread(target=ask, args=("api", "POST", "/api/organizations", {"name": "x"},
                                                          gw.admin)))
        for t in waiting:
            t.start()
        # In flight: the commands admitted, the INSERT begun.
        poll(lambda: gw.count("api_key_requests_total") == admitted + 3
             and gw.count("database_queries_total", '{type="insert"}') == inserts + 1, "the requests in flight")
        start = time.monotonic()
        gw.proc.send_signal(signal.SIGTERM)
        idle.sock.settimeout(1.0)
        try:
            closed = idle.sock.recv(1) == b""
        except OSError:
            closed = False
        check(closed, "the idle connection closes at once")
        poll(lambda: refused(gw.port), "the listener to close", timeout=1)
        rc = gw.proc.wait(timeout=DEADLINE)
        exited = time.monotonic() - start
        for t in waiting:
            t.join()
        print(f"exit {rc} after {exited:.2f} s; answers {answers}")
        check(rc == 0, f"exit code {rc}: {gw.log()[-2000:]}")
        check(exited < 1.5 + 1.0, f"exited after {exited:.2f} s")
        for name, (status, reply, took, connection) in answers.items():
            want = {"error": "database unavailable" if name == "api" else "redis unavailable"}
            check(status == 503 and reply == want and connection == "close", f"{name}: {answers[name]}")
            check(took >= 1.4, f"{name} was given the deadline: {took:.2f} s")
    finally:
        redis.resume()
        pg.resume()
        if gw.alive():
            gw.proc.kill()
        gw.proc.wait()
        os.unlink(gw.stderr.name)
        pg.remove()
        redis.stop()


@scenario
def encoding_and_head(binary):
    """`Upstash-Encoding: base64` returns values byte-exact; HEAD on a GET route answers like GET, without a
    body, on a connection that stays usable."""
    r = Run(binary)
    try:
        b64 = {"Upstash-Encoding": "base64"}
        raw = q(r.k("bin"))
        s, body, _ = r.gw.request("GET", f"/redis/{r.inst}/set/{raw}/%ff%fe", token=r.key, headers=b64)
        check(s == 200 and body == {"result": "OK"}, f"SET answers OK, as Upstash does: {body}")
        s, body, _ = r.gw.request("GET", f"/redis/{r.inst}/get/{raw}", token=r.key, headers=b64)
        check(s == 200 and body == {"result": "//4="}, f"GET byte-exact: {body}")
        s, body, _ = r.gw.request("GET", f"/redis/{r.inst}/get/{raw}", token=r.key)
        check(body == {"result": "\ufffd\ufffd"}, f"without the header, text as before: {body}")
        s, body, _ = r.gw.request("POST", f"/redis/{r.inst}", ["MGET", r.k("bin"), r.k("none")], token=r.key,
                                  headers={"upstash-encoding": "BASE64"})
        check(body == {"result": ["//4=", None]}, f"arrays element by element: {body}")
        s, body, _ = r.gw.request("GET", f"/redis/{r.inst}/incr/{q(r.k('n'))}", token=r.key, headers=b64)
        check(body == {"result": 1}, f"integers as they are: {body}")
        s, body, _ = r.gw.request("GET", f"/redis/{r.inst}/ping", token=r.key, headers=b64)
        check(body == {"result": "UE9ORw=="}, f"status replies but OK encoded too: {body}")
        r.gw.request("GET", f"/redis/{r.inst}/expire/{raw}/60", token=r.key)

        c = r.gw.conn()
        for path, token in ((f"/redis/{r.inst}/get/{raw}", r.key), ("/api/organizations", r.key),
                            ("/health/live", None), ("/metrics", None), ("/health", None)):
            s, _, h = r.gw.request("GET", path, token=token, conn=c)
            s2, empty, h2 = r.gw.request("HEAD", path, token=token, conn=c)
            check(s2 == s == 200 and empty == "" and h2.getheader("Content-Type") == h.getheader("Content-Type"),
                  f"HEAD {path}: {s2} {empty!r}")
            if path not in ("/metrics", "/health"):  # these change from one request to the next
                check(h2.getheader("Content-Length") == h.getheader("Content-Length"),
                      f"HEAD {path} has GET's Content-Length: {h2.getheader('Content-Length')}")
        # The connection was not confused by a body after a HEAD answer.
        s, body, _ = r.gw.request("GET", f"/redis/{r.inst}/ping", token=r.key, conn=c)
        check(s == 200 and body == {"result": "PONG"}, f"after the HEADs: {s} {body}")
        s, _, h = r.gw.request("DELETE", f"/redis/{r.inst}/get/{raw}", token=r.key)
        check(s == 405 and h.getheader("Allow") == "GET, HEAD", f"Allow names HEAD: {h.getheader('Allow')}")
        check(r.gw.count("http_requests_total", '{method="HEAD",path="/redis/{instance}/get/{key}",status="200"}') == 1,
              "HEAD counted as HEAD")
    finally:
        r.close()



@scenario
def dashboard(binary, prometheus_bin, deploy_dir):
    """Every dashboard expression (and alert rule) runs on a real Prometheus
    scraping a live gateway, and every metric it names has series there."""
    with open(os.path.join(deploy_dir, "grafana-dashboard.json"), encoding="utf-8") as f:
        dash = json.load(f)
    check(dash.get("uid") and dash.get("schemaVersion", 0) >= 36, "uid and schemaVersion >= 36")
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    check(variables.get("datasource", {}).get("type") == "datasource", "a datasource variable")
    exprs = []
    for panel in dash["panels"]:
        check(panel["datasource"]["uid"] == "${datasource}", f"{panel['title']}: uses the datasource variable")
        refs = [t["refId"] for t in panel["targets"]]
        check(len(refs) == len(set(refs)) and all(refs), f"{panel['title']}: unique refIds")
        exprs += [t["expr"] for t in panel["targets"]]

    r = Run(binary)
    tmp = tempfile.mkdtemp(prefix="redis_gateway_prom_")
    stop = threading.Event()
    prom = None
    try:
        r.redis("incr", r.k("n"))
        r.redis("set", r.k("s"), "x")
        r.redis("incr", r.k("s"))  # a Redis error
        r.redis("ping", token="bogus")  # an auth failure
        name = "dup-" + suffix()
        r.gw.admin_req("POST", "/api/organizations", {"name": name})
        r.gw.admin_req("POST", "/api/organizations", {"name": name})  # a database error
        r.gw.admin_req("POST", f"/api/organizations/{r.org}/users", {"email": f"{suffix()}@example.com"})

        def traffic():
            c = r.gw.conn()
            while not stop.is_set():
                r.gw.request("GET", f"/redis/{r.inst}/get/{q(r.k('s'))}", token=r.key, conn=c)
                time.sleep(0.02)
            c.close()
        threading.Thread(target=traffic, daemon=True).start()

        port = free_port()
        with open(os.path.join(tmp, "prometheus.yml"), "w") as f:
            f.write(f"global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                    f"rule_files: ['{os.path.join(os.path.abspath(deploy_dir), 'alerts.yml')}']\n"
                    f"scrape_configs:\n  - job_name: redisgate\n    static_configs:\n"
                    f"      - targets: ['127.0.0.1:{r.gw.port}']\n")
        prom = subprocess.Popen([prometheus_bin, f"--config.file={tmp}/prometheus.yml", f"--storage.tsdb.path={tmp}/data",
                                 f"--web.listen-address=127.0.0.1:{port}"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)

        def api(path, **params):
            import urllib.request
            url = f"http://127.0.0.1:{port}/api/v1/{path}?" + urllib.parse.urlencode(params, doseq=True)
            try:
                with urllib.request.urlopen(url, timeout=DEADLINE) as resp:
                    return json.load(resp)
            except Exception as e:  # not up yet, or a 400 with a JSON body
                try:
                    return json.loads(getattr(e, "read", lambda: b"")())
                except ValueError:
                    return {"status": "down", "error": str(e)}

        def has(expr):
            res = api("query", query=expr)
            return res.get("status") == "success" and res["data"]["result"]
        poll(lambda: has('rate(http_requests_total{path="/redis/{instance}/get/{key}"}[5m]) > 0'),
             "Prometheus to scrape the gateway twice")
        for expr in exprs:
            e = expr.replace("$job", ".*")
            res = api("query", query=e)
            check(res.get("status") == "success", f"{expr}: {res.get('error')}")
            for metric in sorted(set(re.findall(r"\b([a-z_]+(?:_total|_bucket|_active))\b", e))):
                check(api("series", **{"match[]": metric}).get("data"), f"{expr}: no series of {metric}")
        rules = poll(lambda: [ru for g in api("rules").get("data", {}).get("groups", []) for ru in g["rules"]
                              if ru.get("lastEvaluation", "").startswith("2") and ru.get("health") == "ok"] or None,
                     "the alert rules to evaluate")
        check(len(rules) == 3, f"3 alert rules evaluate cleanly: {rules}")
        print(f"{len(exprs)} dashboard expressions and {len(rules)} alert rules checked")
    finally:
        stop.set()
        if prom:
            prom.terminate()
            prom.wait(timeout=DEADLINE)
        subprocess.run(["rm", "-rf", tmp])
        r.close()


if __name__ == "__main__":
    name, *args = sys.argv[1:]
    if name not in SCENARIOS:
        fail(f"unknown scenario {name}; known: {', '.join(SCENARIOS)}")
    SCENARIOS[name](*args)
    print(f"{name}: ok")
