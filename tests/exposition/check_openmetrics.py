"""Parses OpenMetrics files with the strict parser of the Prometheus Python
client, and checks the values it reads back from known corpus files.

Usage: check_openmetrics.py <directory>                  every *.om.txt must parse
       check_openmetrics.py --expect-reject <file>...    every file must be rejected
"""
import math
import pathlib
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families


def parse(path):
    # The parser is a generator: list() makes it read to the end, where the
    # `# EOF` check lives.
    return list(text_string_to_metric_families(path.read_bytes().decode("utf-8")))


def samples(families):
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in families for s in f.samples}


def expect(condition, message):
    if not condition:
        raise AssertionError(message)


def check_histogram(families):
    (f,) = families
    expect((f.name, f.type, f.unit, f.documentation) ==
           ("request_duration_seconds", "histogram", "seconds", "Request latency."),
           f"histogram metadata: {f.name} {f.type} {f.unit} {f.documentation!r}")
    got = samples(families)
    want = {
        ("request_duration_seconds_bucket", (("le", "0.005"), ("method", "GET"))): 1,
        ("request_duration_seconds_bucket", (("le", "1.0"), ("method", "GET"))): 4,
        ("request_duration_seconds_bucket", (("le", "1e+06"), ("method", "GET"))): 4,
        ("request_duration_seconds_bucket", (("le", "+Inf"), ("method", "GET"))): 5,
        ("request_duration_seconds_count", (("method", "GET"),)): 5,
        ("request_duration_seconds_sum", (("method", "GET"),)): 1.75,
        ("request_duration_seconds_created", (("method", "GET"),)): 1700000000.0,
        ("request_duration_seconds_bucket", (("le", "+Inf"), ("method", "POST"))): 2,
        ("request_duration_seconds_sum", (("method", "POST"),)): 2.5,
        ("request_duration_seconds_created", (("method", "POST"),)): 1700000000.25,
    }
    for key, value in want.items():
        expect(key in got and got[key] == value, f"{key}: want {value}, got {got.get(key)}")
    expect(len(got) == 16, f"histogram sample count {len(got)}")


def check_escaping(families):
    (f,) = families
    expect(f.documentation == 'Path "C:\\tmp" with\nnewline; Gr\u00f6\u00dfe \u2713',
           f"help read back as {f.documentation!r}")
    labels = [s.labels for s in f.samples]
    expect(labels[0] == {"path": 'C:\\dir\\"q"\nend', "word": "\u65e5\u672c \u00fc"},
           f"labels read back as {labels[0]!r}")


def check_special_values(families):
    values = {s.labels["case"]: s.value for s in families[0].samples}
    expect(values["a_pos_inf"] == math.inf and values["b_neg_inf"] == -math.inf, "infinities")
    expect(math.isnan(values["c_nan"]), "NaN")
    expect(values["d_tenth"] == 0.1 and values["f_huge"] == 1e22 and values["g_tiny"] == 1.5e-7,
           f"doubles read back as {values}")


def check_big_integers(families):
    (f,) = families
    expect((f.name, f.type, f.unit) == ("sent_bytes", "counter", "bytes"), "counter metadata")
    values = {s.labels["peer"]: s.value for s in f.samples}
    expect(values == {"a": 2**53 + 1, "b": 2**64 - 1}, f"integers read back as {values}")


def check_info_and_units(families):
    by_name = {f.name: f for f in families}
    expect(by_name["build"].type == "info", "info type")
    expect(by_name["build"].samples[0].labels == {"revision": "abc123", "version": "1.2.3"},
           "info labels")
    expect(by_name["heap_bytes"].unit == "bytes" and by_name["uptime"].unit == "", "units")


CHECKS = {
    "histogram_created.om.txt": check_histogram,
    "escaping.om.txt": check_escaping,
    "special_values.om.txt": check_special_values,
    "big_integers.om.txt": check_big_integers,
    "info_and_units.om.txt": check_info_and_units,
}


def main(argv):
    if argv[:1] == ["--expect-reject"]:
        status = 0
        for name in argv[1:]:
            try:
                parse(pathlib.Path(name))
            except ValueError as e:
                print(f"rejected as expected: {name}: {e}")
                continue
            print(f"NOT rejected: {name}", file=sys.stderr)
            status = 1
        return status if argv[1:] else 1

    # --parse-only DIR: every file must parse; no golden corpus expected
    # (the property test's output).
    parse_only = argv[:1] == ["--parse-only"]
    directory = pathlib.Path(argv[1] if parse_only else argv[0])
    files = sorted(directory.glob("*.om.txt"))
    failures = 0
    for path in files:
        try:
            families = parse(path)
            if path.name in CHECKS and not parse_only:
                CHECKS[path.name](families)
        except Exception as e:  # any parser or value error fails the file
            print(f"FAIL {path.name}: {type(e).__name__}: {e}", file=sys.stderr)
            failures += 1
    checked = [] if parse_only else [n for n in CHECKS if (directory / n).exists()]
    if not parse_only and len(checked) != len(CHECKS):
        print(f"missing corpus files: {sorted(set(CHECKS) - set(checked))}", file=sys.stderr)
        failures += 1
    print(f"OpenMetrics parser: {len(files)} files parsed, {len(checked)} value-checked, "
          f"{failures} failed")
    return 1 if failures or not files else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
