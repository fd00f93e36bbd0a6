#include "obs/detail/native_buckets.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <protozero/pbf_reader.hpp>

namespace {

/// What put_native_buckets wrote: (offset, length) per span, and the deltas.
struct decoded {
  std::vector<std::pair<std::int32_t, std::uint32_t>> spans;
  std::vector<std::int64_t> deltas;
};

decoded decode(const std::string& bytes, protozero::pbf_tag_type span_field, protozero::pbf_tag_type delta_field) {
  decoded out;
  protozero::pbf_reader r(bytes);
  while (r.next()) {
    if (r.tag() == span_field) {
      protozero::pbf_reader span = r.get_message();
      std::pair<std::int32_t, std::uint32_t> s{};
      while (span.next()) {
        if (span.tag() == 1) s.first = span.get_sint32();
        else s.second = span.get_uint32();
      }
      out.spans.push_back(s);
    } else if (r.tag() == delta_field && r.wire_type() == protozero::pbf_wire_type::length_delimited) {
      for (std::int64_t d : r.get_packed_sint64()) out.deltas.push_back(d);
    } else {
      REQUIRE(r.tag() == delta_field);
      out.deltas.push_back(r.get_sint64());
    }
  }
  return out;
}

}  // namespace

TEST_CASE("native buckets: spans, then counts as deltas from the count before, packed or one field each") {
  const obs::bucket_span spans[] = {{-3, 2}, {4, 1}};
  const std::uint64_t counts[] = {5, 2, 9};
  for (const auto deltas : {obs::detail::native_deltas::one_field_each, obs::detail::native_deltas::packed}) {
    std::string bytes;
    protozero::pbf_writer w(bytes);
    obs::detail::put_native_buckets(w, 11, 12, deltas, spans, counts);
    const decoded d = decode(bytes, 11, 12);
    CHECK(d.spans == std::vector<std::pair<std::int32_t, std::uint32_t>>{{-3, 2}, {4, 1}});
    CHECK(d.deltas == std::vector<std::int64_t>{5, -3, 7});
  }
}

TEST_CASE("native buckets: an empty side writes nothing") {
  for (const auto deltas : {obs::detail::native_deltas::one_field_each, obs::detail::native_deltas::packed}) {
    std::string bytes;
    protozero::pbf_writer w(bytes);
    obs::detail::put_native_buckets(w, 8, 9, deltas, {}, {});
    CHECK(bytes.empty());
  }
}
