"""End-to-end scenarios of redis_gateway, one per ctest entry:

    python3 scenarios.py SCENARIO GATEWAY_BINARY [TOOL...]

Each runs its own gateway (own schema, own Redis keys) against the
PostgreSQL and Redis named by OBS_TEST_* and cleans up after itself.
"""
import concurrent.futures
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

from harness import (DEADLINE, Gateway, RedisServer, check, env, fail, free_port, poll, psql, redis_cli, samples,
                     suffix, value)

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
        check(s == 405 and h.getheader("Allow") == "GET, POST", f"405: {s} {h.getheader('Allow')}")
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
def concurrency(binary):
    """1,000 connections open at once, each answered."""
    r = Run(binary, rps=1_000_000)
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
    """Redis stopped: retries logged, 503s, /health unhealthy, errors counted;
    Redis back: it recovers."""
    pg, _, _ = servers()
    redis = RedisServer()
    gw = Gateway(binary, pg, "redis_gateway_t_" + suffix())
    try:
        org, inst, key = gw.tenant("127.0.0.1", redis.port)
        path = f"/redis/{inst}/set/k/v"
        s, body, _ = gw.request("GET", path, token=key)
        check(s == 200, f"before: {s} {body}")
        redis.stop()
        # The pooled connection died with the server: requests fail until one
        # reconnects through the retry loop and gives up.
        def gave_up():
            s, body, _ = gw.request("GET", path, token=key)
            check(s == 503, f"while down: {s} {body}")
            return "after 3 attempts" in body["error"]
        poll(gave_up, "a 503 after the retry loop")
        log = gw.log()
        for a in (1, 2, 3):
            check(f"connect attempt {a}/3 failed" in log, f"attempt {a}/3 logged: {log[-1500:]}")
        s, body, _ = gw.request("GET", "/health")
        check(s == 503 and body["status"] == "unhealthy" and body["components"]["redis_pool"]["status"] == "unhealthy"
              and body["components"]["database"]["status"] == "healthy", f"/health while down: {s} {body}")
        s, _, _ = gw.request("GET", "/health/ready")
        check(s == 503, f"/health/ready while down: {s}")
        text = gw.scrape()
        check(value(text, "redis_command_errors_total", '{command="SET"}') >= 2, "errors counted")
        redis.start()
        s, body, _ = gw.request("GET", path, token=key)
        check(s == 200, f"after restart: {s} {body}")
        s, body, _ = gw.request("GET", "/health")
        check(s == 200 and body["status"] == "healthy", f"/health after: {s} {body}")
    finally:
        gw.stop()
        redis.stop()


@scenario
def pipelined(binary):
    """Commands of one HTTP connection go over the I/O thread's pipelined Redis
    connection once it is open; the pool's connections stay idle meanwhile."""
    pg, _, _ = servers()
    redis = RedisServer()
    gw = Gateway(binary, pg, "redis_gateway_t_" + suffix())
    try:
        org, inst, key = gw.tenant("127.0.0.1", redis.port)
        c = gw.conn()

        def clients():
            return [dict(f.split("=", 1) for f in line.split() if "=" in f)
                    for line in redis_cli("127.0.0.1", redis.port, "CLIENT", "LIST").splitlines()]

        def pipeline_open():
            s, body, _ = gw.request("GET", f"/redis/{inst}/set/k/v", token=key, conn=c)
            check(s == 200 and body == {"result": "OK"}, f"set: {s} {body}")
            return any(cl.get("name") == "redis_gateway-pipeline" for cl in clients())
        poll(pipeline_open, "the pipelined connection to open")
        for i in range(20):
            s, body, _ = gw.request("GET", f"/redis/{inst}/incr/n", token=key, conn=c)
            check(s == 200 and body == {"result": i + 1}, f"incr {i}: {s} {body}")
        mine = [cl for cl in clients() if cl.get("cmd") != "client|list"]
        pipes = [cl for cl in mine if cl.get("name") == "redis_gateway-pipeline"]
        check(any(cl["cmd"] == "incr" for cl in pipes), f"the INCRs went over the pipeline: {mine}")
        check(all(cl["cmd"] != "incr" for cl in mine if cl not in pipes), f"and none over the pool: {mine}")
        text = gw.scrape()
        check(value(text, "redis_commands_total", '{command="INCR"}') == 20, "pipelined commands are counted")
        check(value(text, "redis_command_duration_seconds_count", '{command="INCR"}') == 20, "and timed")
        check(value(text, "redis_connections_active") == len(mine), f"every connection counted: {mine}")
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
        check(s == 503 and "AUTH" in body["error"] and "after 3 attempts" in body["error"], f"wrong password: {body}")
        s, body, _ = gw.request("GET", "/health")
        check(s == 200 and body["components"]["redis_pool"]["status"] == "degraded", f"one of two down: {s} {body}")
    finally:
        gw.stop()
        redis.stop()


@scenario
def pg_down(binary, pg_cluster):
    """PostgreSQL stopped: /health/ready 503, Redis routes go on from the cache;
    PostgreSQL back: ready again."""
    _, rhost, rport = servers()
    tmp = tempfile.mkdtemp(prefix="redis_gateway_pg_")
    os.chmod(tmp, 0o755)
    port, password = free_port(), "pw-" + suffix()
    subprocess.run(["bash", pg_cluster, "start", tmp, str(port), password], check=True, stdout=subprocess.DEVNULL)
    url = f"host=127.0.0.1 port={port} user=postgres password={password} dbname=postgres"
    gw = Gateway(binary, url, "redis_gateway")
    prefix = f"redis_gateway:{suffix()}:"
    try:
        org, inst, key = gw.tenant(rhost, rport)
        s, _, _ = gw.request("GET", "/health/ready")
        check(s == 200, f"ready: {s}")
        subprocess.run(["bash", pg_cluster, "stop", tmp], check=True, stdout=subprocess.DEVNULL)
        s, body, _ = gw.request("GET", "/health/ready")
        check(s == 503, f"ready with PostgreSQL down: {s} {body}")
        s, body, _ = gw.request("GET", "/health")
        check(s == 503 and body["components"]["database"]["status"] == "unhealthy", f"/health: {body}")
        s, body, _ = gw.request("GET", f"/redis/{inst}/set/{q(prefix + 'k')}/v", token=key)
        check(s == 200, f"Redis routes still work: {s} {body}")
        s, body, _ = gw.admin_req("POST", "/api/organizations", {"name": "x"})
        check(s == 503 and "database unavailable" in body["error"], f"/api while down: {s} {body}")
        check(value(gw.scrape(), "database_query_errors_total", '{type="ping"}') >= 2, "ping errors counted")
        subprocess.run(["bash", pg_cluster, "start", tmp, str(port), password], check=True, stdout=subprocess.DEVNULL)
        poll(lambda: gw.request("GET", "/health/ready")[0] == 200, "ready after restart")
    finally:
        gw.stop(drop_schema=False)
        subprocess.run(["bash", pg_cluster, "stop", tmp], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(["rm", "-rf", tmp])
        keys = redis_cli(rhost, rport, "--scan", "--pattern", prefix + "*").split()
        if keys:
            redis_cli(rhost, rport, "DEL", *keys)


@scenario
def metrics_port(binary):
    """--metrics-listen moves /metrics off the API port; probes stay on both."""
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
        s, _, _ = r.gw.request("GET", "/health", port=r.gw.metrics_port)
        check(s == 200, "health on the management port")
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
