// obs::protobuf: renders a snapshot in the Prometheus protobuf exposition
// format, the one that carries native histograms.
//
// Use it to serve Prometheus servers started with
// `--enable-feature=native-histograms` (they ask for this format first), or
// any scraper of client_golang's protobuf output; obs::openmetrics and
// obs::prometheus cover the rest. obs::http serves it when given
// obs::protobuf::render_to (see obs/http/registry_source.hpp).
//
// The body is a sequence of `io.prometheus.client.MetricFamily` messages,
// each preceded by its length as a varint ("encoding=delimited"), as defined by
// metrics.proto of prometheus/client_model 0.3.0 (vendored in
// tests/protobuf/metrics.proto, the schema Prometheus 2.42 reads):
// https://github.com/prometheus/client_model/blob/v0.3.0/io/prometheus/client/metrics.proto
// https://prometheus.io/docs/instrumenting/exposition_formats/#protobuf-format
//
// What is written, per family in snapshot order:
// - names are the sample names Prometheus stores from the OpenMetrics text
//   (obs::openmetrics), so a series keeps its name when a server switches
//   between the two: counter `x_total` (registered `x_total` or `x`), info
//   `x_info` as a GAUGE (metrics.proto has no info type; client_golang
//   exposes info metrics as gauges too), others as registered. For the
//   conventional names these are also the Prometheus text 0.0.4 names;
// - help as registered (protobuf needs no escaping); no unit (no field);
// - counter: value and its exemplar (0.3.0 has no created timestamp field);
// - gauge, info: value;
// - summary: sample count, sum and quantiles;
// - histogram: sample count, sum, and the classic buckets, cumulative, with
//   one exemplar each; the `+Inf` bucket is left out (Prometheus adds it from
//   the sample count) unless an exemplar belongs to it, as client_golang
//   does. A native histogram adds schema, zero threshold and count, and
//   its negative and positive spans with per-bucket count deltas (sint64).
//   One with no buckets, no zero count and a zero threshold of 0 gets a
//   no-op span {0, 0}, client_golang's signal that it is native.
// An exemplar goes on the first bucket whose upper bound is at or above its
// value; when several fall in one bucket, the last (largest) one is kept.
// Fields are written in field-number order and repeated numbers unpacked,
// as the proto2 schema defines them: the bytes are what protoc's encoders
// write for the same message.
#pragma once

#include <string>
#include <string_view>

#include "obs/detail/config.hpp"
#include "obs/snapshot.hpp"

OBS_NAMESPACE_BEGIN
namespace protobuf {

/// The HTTP `Content-Type` of the bodies this namespace renders.
inline constexpr std::string_view content_type =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

/// Appends the length-delimited MetricFamily messages of `s` to `out`.
///
/// Reuse one string across scrapes to render without growing it again:
///
///   std::string body;
///   body.clear();
///   obs::protobuf::render_to(registry.snapshot(), body);
OBS_INLINE void render_to(const snapshot& s, std::string& out);

/// Returns the length-delimited MetricFamily messages of `s`.
///
///   obs::snapshot_builder b;
///   b.add_family("jobs_total", obs::metric_type::counter, "Jobs run.");
///   b.add_series({{"queue", "mail"}}, obs::number::integer(3));
///   std::string body = obs::protobuf::render(std::move(b).build());
///   // one MetricFamily: name "jobs_total", help "Jobs run.", type COUNTER,
///   // metric {label {name "queue" value "mail"} counter {value 3}}
OBS_INLINE std::string render(const snapshot& s);

}  // namespace protobuf
OBS_NAMESPACE_END

// Header-only, the definitions come with the declarations; with
// OBS_COMPILED_LIB they are in the obs::protobuf library, and this header
// stays free of protozero.
#if OBS_HEADER_ONLY
#include "obs/protobuf-inl.hpp"
#endif
