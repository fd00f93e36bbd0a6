"""paced(rate): the demo's traffic drivers send at a steady rate with it."""

import time


def paced(rate):
    """Yields for ever, rate times a second, without bursting after a stall."""
    interval, next_at = 1.0 / rate, time.monotonic()
    while True:
        next_at += interval
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            next_at = time.monotonic()
        yield
