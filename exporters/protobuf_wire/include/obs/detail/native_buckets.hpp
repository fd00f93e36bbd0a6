// obs::detail::put_native_buckets: one side (negative or positive) of a
// native histogram as protobuf fields, for the two encoders that send native
// histograms: the protobuf exposition (client_model's metrics.proto) and
// remote_write (prompb's types.proto).
//
// Both messages hold the same thing, spans then counts as deltas, under
// different field numbers; one walk keeps the two encodings from drifting.
// Use it from an exporter built on protozero, never from instrumented code.
// https://prometheus.io/docs/specs/native_histograms/
#pragma once

#include <cstdint>
#include <span>
#include <utility>

#include <protozero/pbf_writer.hpp>
#include <protozero/types.hpp>

#include "obs/detail/config.hpp"
#include "obs/snapshot.hpp"

OBS_NAMESPACE_BEGIN
namespace detail {

/// How the deltas go on the wire: metrics.proto is proto2, where a repeated
/// sint64 is one field per element unless declared packed; types.proto is
/// proto3, where it is packed.
enum class native_deltas { one_field_each, packed };

/// Writes `spans` as BucketSpan fields `span_field` (offset 1, length 2 in
/// both protos) of `message`, then each count as the difference from the
/// count before (the first from zero), as sint64 field `delta_field`.
inline void put_native_buckets(protozero::pbf_writer& message, protozero::pbf_tag_type span_field,
                               protozero::pbf_tag_type delta_field, native_deltas deltas,
                               std::span<const bucket_span> spans, std::span<const std::uint64_t> counts) {
  for (const bucket_span& s : spans) {
    protozero::pbf_writer span(message, span_field);
    span.add_sint32(1, s.offset);
    span.add_uint32(2, s.length);
  }
  std::uint64_t previous = 0;
  // Two's complement difference: exact for any counts below 2^63.
  auto delta = [&previous](std::uint64_t c) { return static_cast<std::int64_t>(c - std::exchange(previous, c)); };
  if (deltas == native_deltas::one_field_each) {
    for (std::uint64_t c : counts) message.add_sint64(delta_field, delta(c));
  } else if (!counts.empty()) {
    protozero::packed_field_sint64 packed(message, delta_field);
    for (std::uint64_t c : counts) packed.add_element(delta(c));
  }
}

}  // namespace detail
OBS_NAMESPACE_END
