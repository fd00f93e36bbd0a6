#!/usr/bin/env python3
"""Runs check_queries.py against a live `obs_demo --serve`, for ctest:

    run_checker.py OBS_DEMO [--expect-failures SOURCE...] -- CHECK_QUERIES_ARGS...

Starts obs_demo on an ephemeral port, adds --target 127.0.0.1:PORT to the checker's arguments,
runs the checker and stops obs_demo with SIGTERM. Without --expect-failures it passes when the
checker passes. With it, the checker must exit 1 (queries failed, not a setup error) and list as
failed exactly the queries whose sources contain the given substrings, one each.
"""

import os
import re
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKER = os.path.join(HERE, "..", "check_queries.py")


def start_demo(demo):
    process = subprocess.Popen([demo, "--serve", "--port", "0"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    first = process.stdout.readline()  # "serving on http://127.0.0.1:PORT"
    match = re.match(r"serving on http://([\d.]+:\d+)$", first.strip())
    if not match:
        process.kill()
        sys.exit("obs_demo did not start: %r" % (first + process.stdout.read()))
    return process, match.group(1)


def stop_demo(process):
    process.send_signal(signal.SIGTERM)
    try:
        status = process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return "obs_demo did not stop on SIGTERM"
    return None if status == 0 else "obs_demo exited with %d" % status


def main(argv):
    if "--" not in argv or not argv or argv[0].startswith("-"):
        sys.exit(__doc__)
    split = argv.index("--")
    demo, options, checker_args = argv[0], argv[1:split], argv[split + 1:]
    expected = []
    if options:
        if options[0] != "--expect-failures" or len(options) < 2:
            sys.exit(__doc__)
        expected = options[1:]

    process, target = start_demo(demo)
    try:
        started = time.monotonic()
        result = subprocess.run([sys.executable, CHECKER, "--target", target] + checker_args,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        print(result.stdout, end="")
        print("(check_queries.py exited with %d after %.1f s)" % (result.returncode, time.monotonic() - started))
    finally:
        problem = stop_demo(process)
    if problem:
        sys.exit(problem)
    if not expected:
        return result.returncode

    if result.returncode != 1:
        sys.exit("expected check_queries.py to exit 1 (queries failed), not %d" % result.returncode)
    failed = [line[len("FAIL "):] for line in result.stdout.splitlines() if line.startswith("FAIL ")]
    errors = []
    for substring in expected:
        hits = [f for f in failed if substring in f]
        if len(hits) != 1:
            errors.append("expected one failed query from %r, found %d" % (substring, len(hits)))
    unexpected = [f for f in failed if not any(s in f for s in expected)]
    errors += ["unexpected failure: %s" % f for f in unexpected]
    summary = re.search(r"^(\d+) of \d+ queries failed:$", result.stdout, re.M)
    if not summary or int(summary.group(1)) != len(expected):
        errors.append("the summary does not count %d failed queries" % len(expected))
    if errors:
        sys.exit("\n".join(errors))
    print("the checker failed exactly the %d expected queries" % len(expected))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
