#!/usr/bin/env python3
"""Exactly N keep-alive HTTP GETs of one URL over C connections, for counting a server's
instructions per request (bench/lib/instructions.sh): wrk runs for a time, not a count.

    http_load.py URL N [CONNECTIONS] [HEADER...]     e.g. 'Authorization: Bearer KEY'

Each connection sends one request, reads its whole answer (Content-Length), and sends the
next, like wrk. Exits 1 unless every answer is 200."""
import socket
import sys
import threading
import urllib.parse


def worker(host, port, request, count, failures):
    sock = socket.create_connection((host, port))
    buf = b""
    for _ in range(count):
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
    url, n = urllib.parse.urlsplit(sys.argv[1]), int(sys.argv[2])
    connections = int(sys.argv[3]) if len(sys.argv) > 3 else 8
    headers = "".join(h + "\r\n" for h in sys.argv[4:])
    request = (f"GET {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\n{headers}\r\n").encode()
    failures = []
    threads = [threading.Thread(target=worker, args=(url.hostname, url.port, request,
                                                     n // connections + (i < n % connections), failures))
               for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise SystemExit(f"http_load: {len(failures)} answers not 200, e.g. {failures[0]!r}")


main()
