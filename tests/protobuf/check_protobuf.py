"""Decodes obs's protobuf exposition with Python's protobuf runtime against the
upstream metrics.proto (client_model 0.3.0, vendored beside this script), and
checks it three ways.

Usage: check_protobuf.py [--protoc PATH] [--no-goldens] <corpus directory>

The directory holds `<case>.pb` and `<case>.om.txt` pairs (protobuf_corpus).
1. Every .pb is a stream of length-delimited MetricFamily messages that parse,
   and re-serialising each gives back the same bytes: fields in number order,
   repeated numbers unpacked, nothing unknown (protoc's encoders agree).
2. Where tests/protobuf/golden/<case>.txtpb exists (hand-written text protos,
   families separated by `---`), the decoded messages equal it.
3. The samples Prometheus's protobuf parser would make of each family (as in
   model/textparse/protobufparse.go: `_bucket` with `le`, a `+Inf` bucket from
   the sample count when the last bound is finite, `_count`, `_sum`, quantiles)
   equal the samples the OpenMetrics parser of prometheus_client reads from
   the .om.txt of the same case, exemplars included.
"""
import argparse
import importlib
import math
import pathlib
import subprocess
import sys
import tempfile

from google.protobuf import text_format
from google.protobuf.internal.decoder import _DecodeVarint32

HERE = pathlib.Path(__file__).resolve().parent


def expect(condition, message):
    if not condition:
        raise AssertionError(message)


def load_metrics_pb2(protoc, out_dir):
    subprocess.run([protoc, "-I", str(HERE), "--python_out", out_dir, str(HERE / "metrics.proto")], check=True)
    sys.path.insert(0, out_dir)
    return importlib.import_module("metrics_pb2")


def split(pb2, data, path):
    families, pos = [], 0
    while pos < len(data):
        size, start = _DecodeVarint32(data, pos)
        end = start + size
        expect(end <= len(data), f"{path}: message at {pos} runs past the end")
        mf = pb2.MetricFamily()
        mf.ParseFromString(data[start:end])
        expect(mf.SerializeToString() == data[start:end],
               f"{path}: family {mf.name!r} re-serialises differently:\n{mf}")
        expect(not mf.UnknownFields() if hasattr(mf, "UnknownFields") else True, f"{path}: unknown fields")
        families.append(mf)
        pos = end
    return families


def same_number(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == b


def key(name, labels):
    out = []
    for k, v in labels.items():
        if k in ("le", "quantile"):
            v = float(v)
        out.append((k, v))
    return (name, tuple(sorted(out)))


def exemplar_of(e):
    if e is None:
        return None
    ts = None
    if e.HasField("timestamp"):
        ts = e.timestamp.seconds + e.timestamp.nanos / 1e9
    return ({l.name: l.value for l in e.label}, e.value, ts)


def protobuf_samples(pb2, families):
    """(name, labels) -> (value, exemplar), as Prometheus 2.42 expands them."""
    out = {}
    for mf in families:
        for m in mf.metric:
            labels = {l.name: l.value for l in m.label}
            if mf.type == pb2.COUNTER:
                ex = m.counter.exemplar if m.counter.HasField("exemplar") else None
                out[key(mf.name, labels)] = (m.counter.value, exemplar_of(ex))
            elif mf.type == pb2.GAUGE:
                out[key(mf.name, labels)] = (m.gauge.value, None)
            elif mf.type == pb2.SUMMARY:
                s = m.summary
                for q in s.quantile:
                    out[key(mf.name, dict(labels, quantile=q.quantile))] = (q.value, None)
                out[key(mf.name + "_count", labels)] = (float(s.sample_count), None)
                out[key(mf.name + "_sum", labels)] = (s.sample_sum, None)
            elif mf.type == pb2.HISTOGRAM:
                h = m.histogram
                for b in h.bucket:
                    ex = b.exemplar if b.HasField("exemplar") else None
                    out[key(mf.name + "_bucket", dict(labels, le=b.upper_bound))] = (
                        float(b.cumulative_count), exemplar_of(ex))
                if not h.bucket or not math.isinf(h.bucket[-1].upper_bound):
                    out[key(mf.name + "_bucket", dict(labels, le=math.inf))] = (float(h.sample_count), None)
                out[key(mf.name + "_count", labels)] = (float(h.sample_count), None)
                out[key(mf.name + "_sum", labels)] = (h.sample_sum, None)
            else:
                raise AssertionError(f"unexpected type {mf.type} of {mf.name}")
    return out


def openmetrics_samples(path):
    from prometheus_client.openmetrics.parser import text_string_to_metric_families
    out = {}
    for f in text_string_to_metric_families(path.read_text(encoding="utf-8")):
        for s in f.samples:
            ex = None
            if s.exemplar is not None:
                ts = s.exemplar.timestamp
                ex = (dict(s.exemplar.labels), s.exemplar.value, None if ts is None else float(ts))
            out[key(s.name, s.labels)] = (s.value, ex)
    return out


def same_exemplar(a, b):
    if a is None or b is None:
        return a is b
    return a[0] == b[0] and same_number(a[1], b[1]) and (
        a[2] is b[2] or (a[2] is not None and b[2] is not None and abs(a[2] - b[2]) < 1e-6))


def check_against_openmetrics(pb2, families, om_path):
    got = protobuf_samples(pb2, families)
    want = openmetrics_samples(om_path)
    # OpenMetrics leaves out _count and _sum of a histogram with a negative
    # bucket bound; protobuf always has them.
    extra = {k for k in got.keys() - want.keys() if k[0].endswith(("_count", "_sum"))}
    expect(got.keys() - extra == want.keys(),
           f"{om_path.name}: series differ: only protobuf {sorted(got.keys() - extra - want.keys())}, "
           f"only OpenMetrics {sorted(want.keys() - got.keys())}")
    for k, (value, ex) in want.items():
        gv, gex = got[k]
        # Prometheus stores float64 either way; an integer past 2^53 rounds in both.
        expect(same_number(gv, float(value)), f"{om_path.name}: {k}: protobuf {gv}, OpenMetrics {value}")
        expect(same_exemplar(gex, ex), f"{om_path.name}: {k}: exemplar protobuf {gex}, OpenMetrics {ex}")
    return len(want)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--protoc", default="protoc")
    parser.add_argument("--no-goldens", action="store_true", help="random cases: no golden file to match")
    parser.add_argument("corpus")
    args = parser.parse_args()
    corpus = pathlib.Path(args.corpus)
    with tempfile.TemporaryDirectory() as tmp:
        pb2 = load_metrics_pb2(args.protoc, tmp)
        cases = sorted(corpus.glob("*.pb"))
        expect(cases, f"no .pb files in {corpus}")
        goldens = 0
        for path in cases:
            families = split(pb2, path.read_bytes(), path.name)
            golden = HERE / "golden" / (path.stem + ".txtpb")
            if not args.no_goldens and golden.exists():
                parts = golden.read_text().split("\n---\n")
                want = [text_format.Parse(p, pb2.MetricFamily()) for p in parts]
                expect(families == want, f"{path.name} differs from {golden.name}:\n" +
                       "\n---\n".join(str(f) for f in families))
                goldens += 1
            n = check_against_openmetrics(pb2, families, path.with_suffix(".om.txt"))
            print(f"ok  {path.name}: {len(families)} families, {n} samples as in OpenMetrics")
        if not args.no_goldens:
            expect(goldens == len(list((HERE / "golden").glob("*.txtpb"))), "a golden file has no corpus case")
    print("PASS")


if __name__ == "__main__":
    main()
