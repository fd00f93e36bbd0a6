"""Parses every *.json file of the exposition corpus with Python's json
module, strictly (no NaN or Infinity literals), and checks each document
against the schema in docs/exporters.md.

Usage: check_json.py <directory>                  every file must be valid
       check_json.py --expect-reject <file>...    every file must be rejected
"""
import json
import math
import pathlib
import sys

NON_FINITE = {"NaN", "+Inf", "-Inf"}


def reject_constant(name):
    raise ValueError(f"non-standard JSON constant {name}")


def is_number(v, integer=False):
    if isinstance(v, bool):
        return False
    if integer:
        return isinstance(v, int) and v >= 0
    return isinstance(v, (int, float)) and math.isfinite(v) or v in NON_FINITE


def expect(condition, message):
    if not condition:
        raise ValueError(message)


def check_exemplar(e):
    expect(isinstance(e, dict) and set(e) <= {"labels", "value", "timestamp"} and
           set(e) >= {"labels", "value"}, f"exemplar keys {sorted(e) if isinstance(e, dict) else e!r}")
    expect(isinstance(e["labels"], dict) and all(isinstance(v, str) for v in e["labels"].values()),
           "exemplar labels")
    expect(is_number(e["value"]), "exemplar value")
    if "timestamp" in e:
        expect(is_number(e["timestamp"]), "exemplar timestamp")


def check_series(kind, s):
    expect(isinstance(s["labels"], dict) and
           all(isinstance(v, str) for v in s["labels"].values()), "labels")
    keys = {"labels", "created"}
    if kind == "histogram":
        keys |= {"buckets", "sum", "count"}
        expect(s["buckets"] and s["buckets"][-1]["le"] == "+Inf", "last bucket is +Inf")
        counts = [b["count"] for b in s["buckets"]]
        expect(counts == sorted(counts), "buckets are cumulative")
        expect(all(is_number(b["le"]) and is_number(b["count"], True) for b in s["buckets"]),
               "bucket fields")
        for b in s["buckets"]:
            expect(set(b) <= {"le", "count", "exemplar"}, f"bucket keys {sorted(b)}")
            if "exemplar" in b:
                check_exemplar(b["exemplar"])
    elif kind == "summary":
        keys |= {"quantiles", "sum", "count"}
        expect(all(is_number(q["quantile"]) and is_number(q["value"]) for q in s["quantiles"]),
               "quantile fields")
    else:
        keys |= {"value"}
        expect(is_number(s["value"]), f"value {s['value']!r}")
    if "sum" in keys:
        expect(is_number(s["sum"]) and is_number(s["count"], True), "sum and count")
    if "created" in s:
        expect(is_number(s["created"]), "created")
    optional = {"created"}
    if kind == "counter":
        keys |= {"exemplar"}
        optional |= {"exemplar"}
        if "exemplar" in s:
            check_exemplar(s["exemplar"])
    expect(set(s) <= keys and set(s) >= keys - optional, f"series keys {sorted(s)}")


def check_document(doc):
    expect(set(doc) == {"metrics"}, "top level has only 'metrics'")
    for m in doc["metrics"]:
        expect(set(m) == {"name", "type", "help", "unit", "series"}, f"family keys {sorted(m)}")
        expect(m["type"] in {"counter", "gauge", "histogram", "summary", "info"}, m["type"])
        for s in m["series"]:
            check_series(m["type"], s)


def load(path):
    return json.loads(path.read_text(encoding="utf-8"), parse_constant=reject_constant)


def main(argv):
    if argv[:1] == ["--expect-reject"]:
        status = 0 if argv[1:] else 1
        for name in argv[1:]:
            try:
                check_document(load(pathlib.Path(name)))
            except (ValueError, KeyError, TypeError) as e:
                print(f"rejected as expected: {name}: {type(e).__name__}: {e}")
                continue
            print(f"NOT rejected: {name}", file=sys.stderr)
            status = 1
        return status

    directory = pathlib.Path(argv[0])
    files = sorted(directory.glob("*.json"))
    failures = 0
    for path in files:
        try:
            doc = load(path)
            check_document(doc)
            if path.name == "big_integers.json":
                values = [s["value"] for s in doc["metrics"][0]["series"]]
                expect(values == [2**53 + 1, 2**64 - 1], f"integers read back as {values}")
        except Exception as e:  # any parse or schema error fails the file
            print(f"FAIL {path.name}: {type(e).__name__}: {e}", file=sys.stderr)
            failures += 1
    print(f"json: {len(files)} files parsed and schema-checked, {failures} failed")
    return 1 if failures or not files else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
