#!/usr/bin/env python3
"""Exactly N keep-alive HTTP GETs of one URL over C connections, for counting a server's
instructions per request (bench/lib/instructions.sh): wrk runs for a time, not a count.

    http_load.py [--gap SECONDS] URL N [CONNECTIONS] [HEADER...]     e.g. 'Authorization: Bearer KEY'

Each connection sends one request, reads its whole answer (Content-Length), and sends the
next, like wrk; with --gap, it waits that long before the next. Exits 1 unless every answer
is 200."""
import socket
import sys
import threading
import time
import urllib.parse


def worker(host, port, request, count, failures, gap):
    sock = socket.create_connection((host, port))
    buf = b""
    for _ in range(count):
        if gap:
            time.sleep(gap)
        sock.sendall(request)
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                raise SystemExit("http_load: the server closed the connection")
            buf += chunk
        head, buf = buf.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(buf) < length:
            chunk = sock.recv(65536)
            if not chunk:
                raise SystemExit("http_load: the server closed the connection")
            buf += chunk
        buf = buf[length:]
        if lines[0].split()[1] != b"200":
            failures.append(lines[0])
    sock.close()


def main():
    args, gap = sys.argv[1:], 0.0
    if args[:1] == ["--gap"]:
        gap, args = float(args[1]), args[2:]
    url, n = urllib.parse.urlsplit(args[0]), int(args[1])
    connections = int(args[2]) if len(args) > 2 else 8
    headers = "".join(h + "\r\n" for h in args[3:])
    request = (f"GET {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\n{headers}\r\n").encode()
    failures = []
    threads = [threading.Thread(target=worker, args=(url.hostname, url.port, request,
                                                     n // connections + (i < n % connections), failures, gap))
               for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise SystemExit(f"http_load: {len(failures)} answers not 200, e.g. {failures[0]!r}")


main()
