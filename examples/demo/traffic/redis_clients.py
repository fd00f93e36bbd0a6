#!/usr/bin/env python3
"""HTTP clients of the Redis gateway, until killed:

    redis_clients.py --port API_PORT --admin-token TOKEN --redis-port PORT --keys-file FILE

Through the admin API it creates organization "acme", its Redis instance "cache" and three API keys,
writes them to FILE (`NAME KEY QUOTA` per line), then drives one client per key at a steady pace:

    web      quota 200/s, sends ~20/s: SET, GET, INCR, EXPIRE, TTL of session keys
    reports  quota 50/s,  sends ~5/s:  MGET and HSET/HGETALL through POST /redis/cache
    noisy    quota 5/s,   sends ~25/s: GETs, so most get 429 (rate limit exceeded)

plus one request a second with a key that does not exist (401). Standard library only.
"""

import argparse
import http.client
import json
import os
import random
import sys
import threading
import time

from pacing import paced


def request(conn, method, path, token, body=None):
    """(status, parsed JSON body) over a kept-alive connection."""
    headers = {"Authorization": "Bearer " + token}
    if body is not None:
        body = json.dumps(body)
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    try:
        return response.status, json.loads(data)
    except ValueError:
        return response.status, data.decode("utf-8", "replace")


def admin(port, token, method, path, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        status, reply = request(conn, method, path, token, body)
    finally:
        conn.close()
    if status not in (200, 201):
        sys.exit("redis_clients: %s %s answered %d: %r" % (method, path, status, reply))
    return reply["result"]


def setup(args):
    """The tenant: an organization, its instance on the demo's Redis, one API key per client."""
    org = admin(args.port, args.admin_token, "POST", "/api/organizations", {"name": "acme"})["id"]
    admin(args.port, args.admin_token, "POST", "/api/organizations/%d/instances" % org,
          {"name": "cache", "host": "127.0.0.1", "port": args.redis_port, "password": ""})
    keys = {}
    for name, quota, _, _ in CLIENTS:
        keys[name] = admin(args.port, args.admin_token, "POST", "/api/organizations/%d/api-keys" % org,
                           {"rate_limit_rps": quota})["key"]
    with open(args.keys_file + ".tmp", "w") as f:
        for name, quota, _, _ in CLIENTS:
            f.write("%s %s %d\n" % (name, keys[name], quota))
    # Renamed into place: whoever waits for the file never reads half of it.
    os.rename(args.keys_file + ".tmp", args.keys_file)
    return keys


def web_request(i):
    session = "session:%d" % random.randrange(200)
    return random.choice([
        ("GET", "/redis/cache/set/%s/user-%d" % (session, i), None),
        ("GET", "/redis/cache/get/" + session, None),
        ("GET", "/redis/cache/incr/visits", None),
        ("GET", "/redis/cache/expire/%s/300" % session, None),
        ("GET", "/redis/cache/ttl/" + session, None),
    ])


def reports_request(i):
    day = "report:%d" % (i % 7)
    return random.choice([
        ("POST", "/redis/cache", ["MGET", "visits", "session:1", "session:2"]),
        ("POST", "/redis/cache", ["HSET", day, "runs", str(i)]),
        ("POST", "/redis/cache", ["HGETALL", day]),
    ])


def noisy_request(i):
    return "GET", "/redis/cache/get/session:%d" % (i % 200), None


# name, quota (requests a second), pace (requests a second), what it sends
CLIENTS = [
    ("web", 200, 20, web_request),
    ("reports", 50, 5, reports_request),
    ("noisy", 5, 25, noisy_request),
]


def drive(port, token, pace, make, label):
    """Sends make(i) every 1/pace seconds for ever; reconnects after errors."""
    conn = None
    for i, _ in enumerate(paced(pace)):
        method, path, body = make(i)
        try:
            conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            request(conn, method, path, token, body)
        except (OSError, http.client.HTTPException) as e:
            print("redis_clients: %s: %s" % (label, e), flush=True)
            conn.close()
            conn = None
            time.sleep(1)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--admin-token", required=True)
    p.add_argument("--redis-port", type=int, required=True)
    p.add_argument("--keys-file", required=True)
    args = p.parse_args()
    keys = setup(args)
    threads = [threading.Thread(target=drive, args=(args.port, keys[name], pace, make, name), daemon=True)
               for name, _, pace, make in CLIENTS]
    threads.append(threading.Thread(target=drive, daemon=True,
                                    args=(args.port, "no-such-key", 1, noisy_request, "unknown key")))
    for t in threads:
        t.start()
    print("redis_clients: %d clients running" % len(threads), flush=True)
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
