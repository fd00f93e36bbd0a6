// The definitions of what obs/protobuf.hpp declares: the MetricFamily
// encoder, built on protozero's writer.
//
// Header-only, obs/protobuf.hpp includes this file; with OBS_COMPILED_LIB,
// exporters/protobuf/src/protobuf.cpp compiles it once into the
// obs::protobuf library, and its users never include it.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <protozero/pbf_builder.hpp>
#include <protozero/types.hpp>
#include <protozero/varint.hpp>

#include "obs/detail/config.hpp"
#include "obs/detail/native_buckets.hpp"
#include "obs/protobuf.hpp"
#include "obs/snapshot.hpp"

OBS_NAMESPACE_BEGIN
namespace detail {

// The field numbers of io.prometheus.client's messages, as metrics.proto
// (client_model 0.3.0) numbers them; the comment is each field's proto type.
namespace pb {

enum class family : protozero::pbf_tag_type {
  name = 1,    // string
  help = 2,    // string
  type = 3,    // MetricType
  metric = 4,  // repeated Metric
};

// enum MetricType
enum class metric_type : std::int32_t { counter = 0, gauge = 1, summary = 2, untyped = 3, histogram = 4 };

enum class metric : protozero::pbf_tag_type {
  label = 1,      // repeated LabelPair
  gauge = 2,      // Gauge
  counter = 3,    // Counter
  summary = 4,    // Summary
  histogram = 7,  // Histogram
};

enum class label_pair : protozero::pbf_tag_type {
  name = 1,   // string
  value = 2,  // string
};

enum class gauge : protozero::pbf_tag_type {
  value = 1,  // double
};

enum class counter : protozero::pbf_tag_type {
  value = 1,     // double
  exemplar = 2,  // Exemplar
};

enum class summary : protozero::pbf_tag_type {
  sample_count = 1,  // uint64
  sample_sum = 2,    // double
  quantile = 3,      // repeated Quantile
};

enum class quantile : protozero::pbf_tag_type {
  quantile = 1,  // double
  value = 2,     // double
};

enum class histogram : protozero::pbf_tag_type {
  sample_count = 1,     // uint64
  sample_sum = 2,       // double
  bucket = 3,           // repeated Bucket
  schema = 5,           // sint32
  zero_threshold = 6,   // double
  zero_count = 7,       // uint64
  negative_span = 9,    // repeated BucketSpan
  negative_delta = 10,  // repeated sint64
  positive_span = 12,   // repeated BucketSpan
  positive_delta = 13,  // repeated sint64
};

enum class bucket : protozero::pbf_tag_type {
  cumulative_count = 1,  // uint64
  upper_bound = 2,       // double
  exemplar = 3,          // Exemplar
};

enum class span : protozero::pbf_tag_type {
  offset = 1,  // sint32
  length = 2,  // uint32
};

enum class exemplar : protozero::pbf_tag_type {
  label = 1,      // repeated LabelPair
  value = 2,      // double
  timestamp = 3,  // google.protobuf.Timestamp
};

// google/protobuf/timestamp.proto
enum class timestamp : protozero::pbf_tag_type {
  seconds = 1,  // int64
  nanos = 2,    // int32
};

}  // namespace pb

/// `name` without `suffix`, when it ends in it (and is more than it).
constexpr std::string_view protobuf_strip_suffix(std::string_view name, std::string_view suffix) noexcept {
  return name.size() > suffix.size() && name.ends_with(suffix) ? name.substr(0, name.size() - suffix.size())
                                                                : name;
}

/// Writes one LabelPair field of `message`.
template <class Field>
void put_protobuf_label(protozero::basic_pbf_writer<std::string>& message, Field field, const label_view& l) {
  protozero::pbf_builder<pb::label_pair> pair(message, field);
  pair.add_string(pb::label_pair::name, l.name.data(), l.name.size());
  pair.add_string(pb::label_pair::value, l.value.data(), l.value.size());
}

/// Writes `e` as the Exemplar field `field` of `message`.
template <class Field>
void put_protobuf_exemplar(protozero::basic_pbf_writer<std::string>& message, Field field,
                           const exemplar_snapshot& e) {
  protozero::pbf_builder<pb::exemplar> ex(message, field);
  for (const label_view& l : e.labels) put_protobuf_label(ex, pb::exemplar::label, l);
  ex.add_double(pb::exemplar::value, e.value);
  // A timestamp an int64 of seconds cannot hold is left out, as unknown.
  if (e.timestamp && std::fabs(*e.timestamp) < 9.2e18) {
    // Timestamp: whole seconds, and nanoseconds in [0, 1e9) forward of them.
    const double seconds = std::floor(*e.timestamp);
    auto nanos = static_cast<std::int32_t>(std::llround((*e.timestamp - seconds) * 1e9));
    auto whole = static_cast<std::int64_t>(seconds);
    if (nanos >= 1'000'000'000) {
      nanos -= 1'000'000'000;
      ++whole;
    }
    // timestamp.proto is proto3: a field at its default (0) is not written.
    protozero::pbf_builder<pb::timestamp> ts(ex, pb::exemplar::timestamp);
    if (whole != 0) ts.add_int64(pb::timestamp::seconds, whole);
    if (nanos != 0) ts.add_int32(pb::timestamp::nanos, nanos);
  }
}

inline void put_protobuf_histogram(protozero::pbf_builder<pb::metric>& m, const series_snapshot& s) {
  protozero::pbf_builder<pb::histogram> h(m, pb::metric::histogram);
  h.add_uint64(pb::histogram::sample_count, s.count);
  h.add_double(pb::histogram::sample_sum, s.sum);
  // Classic buckets, each with the last exemplar whose value it is the first
  // bucket to cover. The +Inf bucket (the snapshot's last) is implied by the
  // sample count unless it carries an exemplar (client_golang's rule;
  // Prometheus's parser adds `le="+Inf"` itself when the last is finite).
  std::size_t next = 0;
  for (std::size_t i = 0; i < s.buckets.size(); ++i) {
    const bucket_count& b = s.buckets[i];
    const bool last = i + 1 == s.buckets.size();
    const exemplar_snapshot* e = nullptr;
    while (next < s.exemplars.size() && (last || s.exemplars[next].value <= b.upper_bound)) e = &s.exemplars[next++];
    if (last && std::isinf(b.upper_bound) && b.upper_bound > 0 && !e) break;
    protozero::pbf_builder<pb::bucket> bucket(h, pb::histogram::bucket);
    bucket.add_uint64(pb::bucket::cumulative_count, b.cumulative_count);
    bucket.add_double(pb::bucket::upper_bound, b.upper_bound);
    if (e) put_protobuf_exemplar(bucket, pb::bucket::exemplar, *e);
  }
  if (s.native == nullptr) return;
  const native_histogram_snapshot& n = *s.native;
  h.add_sint32(pb::histogram::schema, n.schema);
  h.add_double(pb::histogram::zero_threshold, n.zero_threshold);
  h.add_uint64(pb::histogram::zero_count, n.zero_count);
  // metrics.proto is proto2: the deltas go one field each, as protoc writes them.
  put_native_buckets(h, static_cast<protozero::pbf_tag_type>(pb::histogram::negative_span),
                     static_cast<protozero::pbf_tag_type>(pb::histogram::negative_delta), native_deltas::one_field_each,
                     n.negative_spans, n.negative_counts);
  if (n.positive_spans.empty() && n.negative_spans.empty() && n.zero_count == 0 && !(n.zero_threshold > 0)) {
    // Nothing else would tell a scraper the histogram is native: client_golang
    // adds this no-op span, which newer Prometheus servers look for.
    protozero::pbf_builder<pb::span> sp(h, pb::histogram::positive_span);
    sp.add_sint32(pb::span::offset, 0);
    sp.add_uint32(pb::span::length, 0);
    return;
  }
  put_native_buckets(h, static_cast<protozero::pbf_tag_type>(pb::histogram::positive_span),
                     static_cast<protozero::pbf_tag_type>(pb::histogram::positive_delta), native_deltas::one_field_each,
                     n.positive_spans, n.positive_counts);
}

/// Writes one Metric of family `f`.
inline void put_protobuf_metric(protozero::pbf_builder<pb::family>& family, const family_snapshot& f,
                                const series_snapshot& s) {
  protozero::pbf_builder<pb::metric> m(family, pb::family::metric);
  for (const label_view& l : s.labels) put_protobuf_label(m, pb::metric::label, l);
  switch (f.type) {
    case metric_type::counter: {
      protozero::pbf_builder<pb::counter> c(m, pb::metric::counter);
      c.add_double(pb::counter::value, s.value.as_double());
      // A counter has at most one exemplar.
      if (!s.exemplars.empty()) put_protobuf_exemplar(c, pb::counter::exemplar, s.exemplars.back());
      return;
    }
    case metric_type::gauge:
    case metric_type::info: {
      protozero::pbf_builder<pb::gauge> g(m, pb::metric::gauge);
      g.add_double(pb::gauge::value, s.value.as_double());
      return;
    }
    case metric_type::summary: {
      protozero::pbf_builder<pb::summary> sum(m, pb::metric::summary);
      sum.add_uint64(pb::summary::sample_count, s.count);
      sum.add_double(pb::summary::sample_sum, s.sum);
      for (const quantile_value& q : s.quantiles) {
        protozero::pbf_builder<pb::quantile> qb(sum, pb::summary::quantile);
        qb.add_double(pb::quantile::quantile, q.quantile);
        qb.add_double(pb::quantile::value, q.value);
      }
      return;
    }
    case metric_type::histogram: put_protobuf_histogram(m, s); return;
  }
}

/// The MetricFamily name: the sample name the OpenMetrics text gives, which
/// is what Prometheus stores (see obs/protobuf.hpp). Built in `scratch` only
/// when the registered name lacks the suffix.
inline std::string_view protobuf_family_name(const family_snapshot& f, std::string& scratch) {
  std::string_view suffix;
  if (f.type == metric_type::counter) suffix = "_total";
  else if (f.type == metric_type::info) suffix = "_info";
  if (suffix.empty() || protobuf_strip_suffix(f.name, suffix) != f.name) return f.name;
  scratch.assign(f.name);
  scratch += suffix;
  return scratch;
}

/// A generous guess at the encoded size of family `f`, so rendering grows
/// its strings rarely. Reads only the first series' labels and buckets.
inline std::size_t estimate_protobuf_size(const family_snapshot& f) noexcept {
  std::size_t total = f.name.size() + f.help.size() + 24;
  if (f.series.empty()) return total;
  const series_snapshot& first = f.series.front();
  std::size_t per_series = 16;
  for (const label_view& l : first.labels) per_series += l.name.size() + l.value.size() + 8;
  per_series += 16 + first.buckets.size() * 24 + first.quantiles.size() * 22 + first.exemplars.size() * 64;
  if (first.native != nullptr)
    per_series += 32 + (first.native->positive_spans.size() + first.native->negative_spans.size()) * 10 +
                  (first.native->positive_counts.size() + first.native->negative_counts.size()) * 4;
  return total + f.series.size() * per_series;
}

inline pb::metric_type protobuf_type(metric_type t) noexcept {
  switch (t) {
    case metric_type::counter: return pb::metric_type::counter;
    case metric_type::summary: return pb::metric_type::summary;
    case metric_type::histogram: return pb::metric_type::histogram;
    case metric_type::gauge:
    case metric_type::info: break;
  }
  return pb::metric_type::gauge;
}

}  // namespace detail

namespace protobuf {

OBS_INLINE void render_to(const snapshot& s, std::string& out) {
  // Each MetricFamily is encoded into `message`, then appended after its
  // length: the "delimited" encoding of Java's writeDelimitedTo and Go's
  // pbutil.WriteDelimited, which Prometheus's protobuf parser reads.
  std::size_t total = 0, largest = 0;
  for (const family_snapshot& f : s.families()) {
    const std::size_t size = detail::estimate_protobuf_size(f);
    total += size;
    largest = size > largest ? size : largest;
  }
  out.reserve(out.size() + total + total / 8);
  std::string message;
  message.reserve(largest + largest / 8);
  std::string name;
  for (const family_snapshot& f : s.families()) {
    message.clear();
    {
      protozero::pbf_builder<detail::pb::family> family(message);
      const std::string_view family_name = detail::protobuf_family_name(f, name);
      family.add_string(detail::pb::family::name, family_name.data(), family_name.size());
      if (!f.help.empty()) family.add_string(detail::pb::family::help, f.help.data(), f.help.size());
      family.add_enum(detail::pb::family::type, static_cast<std::int32_t>(detail::protobuf_type(f.type)));
      for (const series_snapshot& series : f.series) detail::put_protobuf_metric(family, f, series);
    }
    protozero::add_varint_to_buffer(&out, message.size());
    out += message;
  }
}

OBS_INLINE std::string render(const snapshot& s) {
  std::string out;
  render_to(s, out);
  return out;
}

}  // namespace protobuf
OBS_NAMESPACE_END
