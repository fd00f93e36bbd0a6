#!/usr/bin/env python3
"""WebSocket clients of the messaging gateway in two rooms, until killed:

    chat_rooms.py --port PUBLIC_PORT

    general  ann sends 8 messages a second, bob an attachment every 5 s; bob and cat read and ACK
             everything; sloth reads one message a second through a 4 KiB receive buffer, so its
             outbound queue fills and the gateway drops what does not fit
             (channel_dropped_messages_total, channel_queue_depth{type="outbound"})
    random   dan and eve chat at 2 and 1 messages a second and ACK what they get

plus a history page over HTTP every 2 s. Each client reconnects a second after its connection
ends (the gateway closes one that did not answer its pings in time, which sloth may not).
The WebSocket client is the standard-library one of examples/gateway/tests/e2e.py.
"""

import argparse
import http.client
import json
import os
import sys
import threading
import time

# Nothing of the demo's is written into the gateway's source tree.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "gateway", "tests"))
from e2e import ws_client, ws_closed  # noqa: E402
from pacing import paced  # noqa: E402


class client(ws_client):
    """ws_client whose frames may be sent from two threads (the reader ACKs, the writer sends)."""

    def __init__(self, port, user, rcvbuf=None):
        super().__init__(port, user, rcvbuf)
        self.lock = threading.Lock()

    def send_frame(self, *args, **kwargs):
        with self.lock:
            super().send_frame(*args, **kwargs)


def log(*args):
    print("chat_rooms:", *args, flush=True)


def upload(port, user, n):
    """POST /attachments: the key of a small text file in the gateway's bucket."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/attachments", body=("notes %d from %s\n" % (n, user)).encode() * 20,
                     headers={"Authorization": "Bearer " + user, "Content-Type": "text/plain"})
        r = conn.getresponse()
        body = r.read()
        return json.loads(body)["key"] if r.status == 201 else None
    finally:
        conn.close()


def session(port, user, room, rate=0.0, read_every=0.0, rcvbuf=None, attachments=False):
    """One user for ever: join ROOM, send RATE messages a second (if any), read and ACK everything
    (or, with READ_EVERY, one message per READ_EVERY seconds, without ACKs: the slow reader)."""
    n = 0
    while True:
        c = None
        try:
            c = client(port, user, rcvbuf)
            c.send({"type": "join", "room": room})
            if rate:
                def write(c=c):
                    nonlocal n
                    try:
                        for _ in paced(rate):
                            n += 1
                            message = {"type": "send", "room": room, "ref": n,
                                       "body": "%s: message %d %s" % (user, n, "." * 900)}
                            if attachments:
                                key = upload(port, user, n)
                                if key:
                                    message["attachment"] = key
                            c.send(message)
                    except OSError:
                        pass  # the reader sees the connection end and reconnects
                threading.Thread(target=write, daemon=True).start()
            while True:
                m = c.recv()
                if read_every:
                    time.sleep(read_every)
                elif m.get("type") == "message":
                    c.send({"type": "ack", "id": m["id"]})
        except (ws_closed, OSError) as e:
            log("%s: connection ended (%s); reconnecting" % (user, e))
        if c:
            c.sock.close()
        time.sleep(1)


def history(port):
    for _ in paced(0.5):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/rooms/general/messages?limit=20")
            conn.getresponse().read()
            conn.close()
        except (OSError, http.client.HTTPException) as e:
            log("history: %s" % e)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    port = p.parse_args().port
    sessions = [
        dict(user="bob", room="general", rate=0.2, attachments=True),
        dict(user="cat", room="general"),
        dict(user="sloth", room="general", read_every=1.0, rcvbuf=4096),
        dict(user="ann", room="general", rate=8),
        dict(user="dan", room="random", rate=2),
        dict(user="eve", room="random", rate=1),
    ]
    threads = [threading.Thread(target=session, args=(port,), kwargs=s, daemon=True) for s in sessions]
    threads.append(threading.Thread(target=history, args=(port,), daemon=True))
    for t in threads:
        t.start()
        time.sleep(0.2)  # members join before ann starts talking
    log("%d users in 2 rooms" % len(sessions))
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
