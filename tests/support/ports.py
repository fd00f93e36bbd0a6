"""A loopback port for a server a test starts, stops and starts again.

A port the kernel hands out for bind(0) lies in its ephemeral range, where every
outgoing connection on the machine takes its local port: while the server is
down, any connection may take it, and the restart fails with "Address already in
use". A port below that range is never taken that way (tests/support/listen_port.hpp
is the same for C++ tests).
"""
import random
import socket


def _first_ephemeral_port():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def _port_is_free(port):
    # Without SO_REUSEADDR, bind also fails on connections in TIME_WAIT.
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_port():
    """A free port below the ephemeral range, chosen at random so that tests running
    side by side rarely try the same one."""
    end = _first_ephemeral_port()
    begin = max(1024, end - 16384)
    if end - begin < 1024:
        raise RuntimeError("the ephemeral port range leaves no room below it")
    for _ in range(1000):
        port = random.randrange(begin, end)
        if _port_is_free(port):
            return port
    raise RuntimeError("no free port below the ephemeral range")
