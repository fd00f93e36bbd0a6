#include "obs/metrics.hpp"
// Reading what the macros recorded needs the registry; recording does not.
#include "obs/registry.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <cstddef>
#include <string>
#include <thread>
#include <vector>

namespace {
const obs::family_snapshot* find(const obs::snapshot& s, std::string_view name) { return s.find(name); }
}  // namespace

TEST_CASE("a literal call site resolves its series once and keeps counting") {
  for (int i = 0; i < 5; ++i) OBS_COUNTER("metrics_test_queries_total", "status", "cache_hit").increment();
  OBS_COUNTER("metrics_test_queries_total", "status", "cache_miss").increment(2);
  obs::snapshot s = obs::global_registry().snapshot();
  const obs::family_snapshot* f = find(s, "metrics_test_queries_total");
  REQUIRE(f != nullptr);
  REQUIRE(f->series.size() == 2);
  CHECK(f->series[0].labels[0].value == "cache_hit");
  CHECK(f->series[0].value.as_integer() == 5);
  CHECK(f->series[1].value.as_integer() == 2);
}

TEST_CASE("each call site returns the same handle every time") {
  auto site = [] { return &OBS_GAUGE("metrics_test_depth", "type", "ack"); };
  CHECK(site() == site());
}

TEST_CASE("threads that reach a site's first call together register it once and lose no record") {
  // Every thread waits at the barrier, then records through one site, and
  // through one family site, that no thread has run yet: one registers
  // each, the others wait for it (detail::init_site), and all record.
  constexpr int threads = 8;
  std::atomic<int> waiting{threads};
  std::vector<std::thread> pool;
  std::vector<const obs::counter*> seen(threads);
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      waiting.fetch_sub(1);
      while (waiting.load() > 0) std::this_thread::yield();
      const obs::counter& c = OBS_COUNTER("metrics_test_first_call_total");
      seen[static_cast<std::size_t>(t)] = &c;
      c.increment();
      OBS_COUNTER_FAMILY("metrics_test_first_call_family_total", "k").with("v").increment();
    });
  }
  for (std::thread& th : pool) th.join();
  for (const obs::counter* c : seen) CHECK(c == seen[0]);
  obs::snapshot s = obs::global_registry().snapshot();
  REQUIRE(find(s, "metrics_test_first_call_total") != nullptr);
  CHECK(find(s, "metrics_test_first_call_total")->series[0].value.as_integer() == threads);
  REQUIRE(find(s, "metrics_test_first_call_family_total") != nullptr);
  CHECK(find(s, "metrics_test_first_call_family_total")->series[0].value.as_integer() == threads);
}

TEST_CASE("gauges, histograms and float counters through macros") {
  OBS_GAUGE("metrics_test_active_connections").set(3);
  OBS_GAUGE("metrics_test_active_connections").increment();
  OBS_HISTOGRAM("metrics_test_duration_seconds", "source", "origin").record(0.02);
  OBS_FLOAT_COUNTER("metrics_test_busy_seconds_total").increment(1.5);
  obs::snapshot s = obs::global_registry().snapshot();
  CHECK(find(s, "metrics_test_active_connections")->series[0].value.as_double() == 4);
  CHECK(find(s, "metrics_test_duration_seconds")->series[0].count == 1);
  CHECK(find(s, "metrics_test_busy_seconds_total")->series[0].value.as_double() == 1.5);
}

TEST_CASE("family macros take runtime values") {
  std::string method = "GET";
  for (int status : {200, 200, 404})
    OBS_COUNTER_FAMILY("metrics_test_http_requests_total", "method", "status")
        .with(method, std::to_string(status))
        .increment();
  OBS_HISTOGRAM_FAMILY("metrics_test_command_duration_seconds", "command").with(method).record(0.001);
  OBS_GAUGE_FAMILY("metrics_test_queue_depth", "type").with(method).set(2);
  OBS_FLOAT_COUNTER_FAMILY("metrics_test_cpu_seconds_total", "mode").with("user").increment(0.5);
  obs::snapshot s = obs::global_registry().snapshot();
  const obs::family_snapshot* f = find(s, "metrics_test_http_requests_total");
  REQUIRE(f->series.size() == 2);
  CHECK(f->series[0].value.as_integer() == 2);
  CHECK(find(s, "metrics_test_command_duration_seconds")->series[0].count == 1);
}

TEST_CASE("describe_* sets HELP and unit on the global registry") {
  obs::describe_counter("metrics_test_sent_bytes_total", "bytes", "Bytes sent.");
  obs::describe_gauge("metrics_test_pool_size", "", "Pool size.");
  obs::describe_histogram("metrics_test_wait_seconds", "seconds", "Wait.");
  OBS_COUNTER("metrics_test_sent_bytes_total").increment(10);
  obs::snapshot s = obs::global_registry().snapshot();
  CHECK(find(s, "metrics_test_sent_bytes_total")->help == "Bytes sent.");
  CHECK(find(s, "metrics_test_sent_bytes_total")->unit == "bytes");
}

TEST_CASE("a type clash at a call site never throws: the site records nowhere and is counted") {
  OBS_COUNTER("metrics_test_clash").increment();
  for (int i = 0; i < 2; ++i) OBS_GAUGE("metrics_test_clash").set(1);  // one site, registered once
  OBS_COUNTER_FAMILY("metrics_test_clash", "k").with("v").increment();  // keys differ
  obs::snapshot s = obs::global_registry().snapshot();
  const obs::family_snapshot* clash = find(s, "metrics_test_clash");
  REQUIRE(clash->series.size() == 1);
  CHECK(clash->series[0].value.as_integer() == 1);
  const obs::family_snapshot* errors = find(s, "obs_registration_errors_total");
  REQUIRE(errors != nullptr);
  REQUIRE(errors->series.size() == 1);
  CHECK(errors->series[0].labels[0].value == "metrics_test_clash");
  CHECK(errors->series[0].value.as_integer() == 2);
}

TEST_CASE("le is a plain label on a counter, at a macro site too") {
  OBS_COUNTER("metrics_test_le_total", "le", "x").increment();
  obs::snapshot s = obs::global_registry().snapshot();
  CHECK(find(s, "metrics_test_le_total")->series[0].labels[0].name == "le");
}
