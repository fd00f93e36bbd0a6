// obs::protobuf as a user of its compiled library sees it: with
// OBS_COMPILED_LIB (tests/exporters.cmake links obs::protobuf_compiled
// whatever OBS_TEST_LINKAGE says), <obs/protobuf.hpp> only declares render
// and render_to, so it includes no protozero header, and what it declares
// links against the compiled library.
#include "obs/protobuf.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <utility>

#ifndef OBS_COMPILED_LIB
static_assert(false, "protobuf_compiled_test must link obs::protobuf_compiled");
#endif
#if defined(PROTOZERO_PBF_BUILDER_HPP) || defined(PROTOZERO_VARINT_HPP)
static_assert(false, "with OBS_COMPILED_LIB, <obs/protobuf.hpp> includes protozero");
#endif

TEST_CASE("protobuf_compiled: render and render_to link against the library") {
  obs::snapshot_builder b;
  b.add_family("jobs_total", obs::metric_type::counter, "Jobs run.");
  b.add_series({{"queue", "mail"}}, obs::number::integer(3));
  const obs::snapshot s = std::move(b).build();
  const std::string body = obs::protobuf::render(s);
  // One MetricFamily: its length, then field 1 (tag 0x0a), the name.
  REQUIRE(body.size() > 12);
  CHECK(static_cast<unsigned char>(body[0]) == body.size() - 1);
  CHECK(body.substr(1, 12) == std::string("\x0a\x0ajobs_total", 12));
  std::string out = "x";
  obs::protobuf::render_to(s, out);
  CHECK(out == "x" + body);
}
