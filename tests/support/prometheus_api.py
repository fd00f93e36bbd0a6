"""What the tests that run a real Prometheus share: ports, HTTP, stopping
processes, and the HTTP API (https://prometheus.io/docs/prometheus/latest/querying/api/).

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
    from prometheus_api import api, expect, fail, free_port, scalar, stop, wait_until
"""
import json
import subprocess
import time
import urllib.parse
import urllib.request

from ports import free_port  # noqa: F401  (the tests import it from here)


def fail(msg):
    raise SystemExit("FAIL: " + msg)


def http_get(url, headers=None):
    """(status, headers, body) of a GET."""
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, timeout=5) as r:
        return r.status, r.headers, r.read()


def stop(proc):
    """Terminates `proc`, killing it after 5 s; None or an exited one is fine."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_until(what, check, seconds=30, retry_on=(OSError,)):
    """Calls `check` until it returns true; an exception of `retry_on` counts as false."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except retry_on:
            pass
        time.sleep(0.2)
    fail(f"timed out waiting for {what}")


def api(port, path, **params):
    """The `data` of GET /api/v1/PATH?PARAMS of the Prometheus on 127.0.0.1:PORT."""
    url = "http://127.0.0.1:%d/api/v1/%s?%s" % (port, path, urllib.parse.urlencode(params))
    _, _, body = http_get(url)
    data = json.loads(body)
    if data.get("status") != "success":
        fail("%s %s: %s" % (path, params, data))
    return data["data"]


def query(port, expr):
    return api(port, "query", query=expr)["result"]


def scalar(port, expr):
    """The value of the one sample `expr` returns."""
    result = query(port, expr)
    if len(result) != 1:
        fail("query %s returned %d series: %s" % (expr, len(result), result))
    return float(result[0]["value"][1])


def expect(port, expr, want, tol=1e-9):
    got = scalar(port, expr)
    if abs(got - want) > tol:
        fail("%s = %r, want %r" % (expr, got, want))
    print("ok  %s = %s" % (expr, got))
