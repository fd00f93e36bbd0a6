#!/usr/bin/env python3
"""Tests that check_queries.py leaves no Prometheus and no directory behind: when its target never
comes up, on SIGINT (Ctrl-C) and SIGTERM, and when SIGKILLed (Prometheus dies with it, and the
next run removes the directory). Its target is a closed port, so it waits for scrapes until it is
stopped. Run: python3 cleanup_test.py PROMETHEUS"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKER = os.path.join(os.path.dirname(HERE), "check_queries.py")
PROMETHEUS = None
DEADLINE_SECONDS = 30


def alive(pid):
    """True unless pid is gone or a zombie."""
    try:
        with open("/proc/%d/stat" % pid, encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(condition, what):
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.05)


class Cleanup(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="cleanup_test.")  # the checker's TMPDIR

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, timeout=60):
        env = dict(os.environ, TMPDIR=self.tmp)
        return subprocess.Popen(
            [sys.executable, CHECKER, "--prometheus", PROMETHEUS, "--target", "127.0.0.1:1",
             "--expr", "up", "--timeout", str(timeout)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))

    def prometheus_of(self, checker):
        """The pid of the checker's Prometheus, once it runs."""
        children = "/proc/%d/task/%d/children" % (checker.pid, checker.pid)

        def prometheus():
            with open(children, encoding="ascii") as f:
                pids = f.read().split()
            if not pids:
                return None
            try:  # exec'd: past the point where it asked to die with its parent
                with open("/proc/%s/cmdline" % pids[0], "rb") as f:
                    exe = f.read().split(b"\0")[0]
            except OSError:
                return None
            return int(pids[0]) if exe == os.fsencode(PROMETHEUS) else None
        wait_for(prometheus, "Prometheus to start")
        return prometheus()

    def test_target_down(self):
        checker = self.start(timeout=3)
        output, _ = checker.communicate(timeout=DEADLINE_SECONDS)
        self.assertEqual(checker.returncode, 2, output)
        self.assertIn("targets not up", output)
        self.assertEqual(os.listdir(self.tmp), [])

    def stopped_by(self, signum, status):
        checker = self.start()
        prometheus = self.prometheus_of(checker)
        time.sleep(0.5)  # into the wait for scrapes
        checker.send_signal(signum)
        output, _ = checker.communicate(timeout=DEADLINE_SECONDS)
        self.assertEqual(checker.returncode, status, output)
        self.assertFalse(alive(prometheus))
        self.assertEqual(os.listdir(self.tmp), [])

    def test_sigint(self):
        self.stopped_by(signal.SIGINT, 128 + signal.SIGINT)

    def test_sigterm(self):
        self.stopped_by(signal.SIGTERM, 128 + signal.SIGTERM)

    def test_sigkill(self):
        checker = self.start()
        prometheus = self.prometheus_of(checker)
        checker.kill()
        checker.communicate(timeout=DEADLINE_SECONDS)
        wait_for(lambda: not alive(prometheus), "Prometheus to die with the checker")
        self.assertEqual(len(os.listdir(self.tmp)), 1)  # nothing could remove it
        again = self.start(timeout=1)
        again.communicate(timeout=DEADLINE_SECONDS)
        self.assertEqual(os.listdir(self.tmp), [])


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: cleanup_test.py PROMETHEUS")
    PROMETHEUS = sys.argv.pop(1)
    unittest.main()
