// The exporters as a user of their compiled libraries sees them: built with
// OBS_COMPILED_LIB (tests/exporters.cmake links them by their old names,
// obs::*_compiled, whatever OBS_TEST_LINKAGE says), the three public headers
// only declare render and render_to, so they must include neither fmt nor
// the exposition writers, and what they declare must link against the
// compiled libraries.
#include "obs/json.hpp"
#include "obs/openmetrics.hpp"
#include "obs/prometheus.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <utility>

#ifndef OBS_COMPILED_LIB
static_assert(false, "exporters_compiled_test must link the obs::*_compiled targets");
#endif
#ifdef FMT_VERSION
static_assert(false, "with OBS_COMPILED_LIB, an exporter's public header includes fmt");
#endif
// The compiled targets link obs::exposition privately, so its include tree
// is not their users'.
#if __has_include(<obs/detail/exposition_writer.hpp>)
static_assert(false, "the compiled exporters expose the exposition writers' include tree");
#endif

namespace {

// A counter with `_created` and a histogram with a unit: every number
// spelling the formats use (integers, shortest doubles, Go's `le`, canonical
// `le`) goes through the compiled libraries' fmt code.
obs::snapshot jobs_and_wait() {
  obs::snapshot_builder b;
  b.add_family("jobs_total", obs::metric_type::counter, "Jobs run.");
  b.add_series({{"queue", "mail"}}, obs::number::integer(3), 1700000000.5);
  b.add_family("wait_seconds", obs::metric_type::histogram, "Queue wait.", "seconds");
  b.add_histogram_series({}, {{1, 1}, {1e6, 2}}, 2.5, 3);
  return std::move(b).build();
}

}  // namespace

TEST_CASE("compiled obs::prometheus renders through its light header") {
  const obs::snapshot s = jobs_and_wait();
  CHECK(obs::prometheus::render(s) == R"(# HELP jobs_total Jobs run.
# TYPE jobs_total counter
jobs_total{queue="mail"} 3
# HELP wait_seconds Queue wait.
# TYPE wait_seconds histogram
wait_seconds_bucket{le="1"} 1
wait_seconds_bucket{le="1e+06"} 2
wait_seconds_bucket{le="+Inf"} 3
wait_seconds_sum 2.5
wait_seconds_count 3
)");
  std::string body = "kept\n";
  obs::prometheus::render_to(s, body);
  CHECK(body == "kept\n" + obs::prometheus::render(s));
  CHECK(obs::prometheus::content_type == "text/plain; version=0.0.4; charset=utf-8");
}

TEST_CASE("compiled obs::openmetrics renders through its light header") {
  const obs::snapshot s = jobs_and_wait();
  CHECK(obs::openmetrics::render(s, {.created = true}) == R"(# TYPE jobs counter
# HELP jobs Jobs run.
jobs_total{queue="mail"} 3
jobs_created{queue="mail"} 1700000000.5
# TYPE wait_seconds histogram
# UNIT wait_seconds seconds
# HELP wait_seconds Queue wait.
wait_seconds_bucket{le="1.0"} 1
wait_seconds_bucket{le="1e+06"} 2
wait_seconds_bucket{le="+Inf"} 3
wait_seconds_count 3
wait_seconds_sum 2.5
# EOF
)");
  std::string body = "kept\n";
  obs::openmetrics::render_to(s, body);
  CHECK(body == "kept\n" + obs::openmetrics::render(s));
  CHECK(body.find("_created") == std::string::npos);
  CHECK(obs::openmetrics::content_type ==
        "application/openmetrics-text; version=1.0.0; charset=utf-8");
}

TEST_CASE("compiled obs::json renders through its light header") {
  const obs::snapshot s = jobs_and_wait();
  CHECK(obs::json::render(s) ==
        R"({"metrics":[{"name":"jobs_total","type":"counter","help":"Jobs run.","unit":"",)"
        R"("series":[{"labels":{"queue":"mail"},"value":3,"created":1700000000.5}]},)"
        R"({"name":"wait_seconds","type":"histogram","help":"Queue wait.","unit":"seconds",)"
        R"("series":[{"labels":{},"buckets":[{"le":1,"count":1},{"le":1000000,"count":2},)"
        R"({"le":"+Inf","count":3}],"sum":2.5,"count":3}]}]})");
  std::string body = "kept\n";
  obs::json::render_to(s, body);
  CHECK(body == "kept\n" + obs::json::render(s));
  CHECK(obs::json::content_type == "application/json");
}
