#include "trace_context/traceparent.hpp"

#include <catch2/catch.hpp>

#include <string>

TEST_CASE("a valid traceparent gives its trace id") {
  CHECK(trace_context::trace_id("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01") ==
        "4bf92f3577b34da6a3ce929d0e0e4736");
  // A later version may carry more fields.
  CHECK(trace_context::trace_id("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-extra") ==
        "4bf92f3577b34da6a3ce929d0e0e4736");
}

TEST_CASE("an invalid traceparent gives nothing") {
  for (const char* header : {
           "",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",        // no flags
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",   // 00 has no more fields
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",     // uppercase
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",     // zero trace id
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",     // zero parent id
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",     // version ff
           "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",     // separator
           "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",    // a later version's junk
           "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",     // not hex
       }) {
    INFO(header);
    CHECK(!trace_context::trace_id(header));
  }
}

TEST_CASE("a request's trace id outlives its header") {
  std::string header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const trace_context::request_trace trace(header);
  header.assign(header.size(), 'x');
  CHECK(trace.id() == "4bf92f3577b34da6a3ce929d0e0e4736");
  CHECK(!trace_context::request_trace("junk").id());
}
