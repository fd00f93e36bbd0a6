// Proves the recording paths allocate nothing, by counting every call to the
// global allocation functions. Zero is exact, so this is no timing test.
#include "obs/metrics.hpp"
#include "obs/registry.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <thread>
#include <vector>

#include "obs/json.hpp"
#include "obs/openmetrics.hpp"
#include "obs/prometheus.hpp"
#include "support/counting_new.hpp"

namespace {

/// Allocations made by 1,000 calls of `record`, after a first call that
/// resolves the call site and takes this thread's slot.
template <class F>
std::size_t allocations_during(F&& record) {
  record();
  return obs_test::allocations_in([&] {
    for (int i = 0; i < 1000; ++i) record();
  });
}

}  // namespace

TEST_CASE("the allocation counter sees allocations") {
  // Guards every zero below against a counter that never counts. Direct
  // calls of operator new may not be elided, unlike new-expressions.
  CHECK(allocations_during([] {
          void* volatile p = ::operator new(16);
          ::operator delete(p);
        }) == 1000);
}

TEST_CASE("recording through a literal call site allocates nothing") {
  CHECK(allocations_during([] { OBS_COUNTER("alloc_test_total", "status", "hit").increment(); }) == 0);
  CHECK(allocations_during([] { OBS_GAUGE("alloc_test_gauge").set(1); }) == 0);
  CHECK(allocations_during([] { OBS_HISTOGRAM("alloc_test_seconds").record(0.1); }) == 0);
}

TEST_CASE("recording through held handles allocates nothing") {
  obs::registry reg;
  reg.set_histogram_config(obs::matcher::full("hr_seconds"), obs::histogram_config::high_resolution());
  obs::counter c = reg.counter("c_total");
  obs::float_counter f = reg.float_counter("f_seconds_total");
  obs::gauge g = reg.gauge("g");
  obs::histogram h = reg.histogram("h_seconds");
  obs::histogram hr = reg.histogram("hr_seconds");
  CHECK(allocations_during([&] { c.increment(); }) == 0);
  CHECK(allocations_during([&] { f.increment(0.5); }) == 0);
  CHECK(allocations_during([&] { g.increment(); }) == 0);
  CHECK(allocations_during([&] { h.record(0.2); }) == 0);
  CHECK(allocations_during([&] { hr.record(0.2); }) == 0);
}

TEST_CASE("runtime label values of an existing series resolve without allocating") {
  obs::registry reg;
  auto fam = reg.counter_family("http_requests_total", {"method", "route"});
  // A route longer than any small-string buffer.
  std::string method = "GET", route = "/api/v1/organizations/{id}/members";
  CHECK(allocations_during([&] { fam.with(method, route).increment(); }) == 0);
  CHECK(allocations_during([&] {
          OBS_COUNTER_FAMILY("alloc_test_requests_total", "method", "route").with(method, route).increment();
        }) == 0);
  auto hist = reg.histogram_family("redis_command_duration_seconds", {"command"});
  CHECK(allocations_during([&] { hist.with(method).record(0.001); }) == 0);
}

TEST_CASE("a lookup-cache miss on an existing series allocates nothing either") {
  obs::registry reg;
  auto fam = reg.counter_family("many_total", {"id"});
  std::vector<std::string> ids;
  for (int i = 0; i < 1024; ++i) ids.push_back(std::to_string(i));
  for (const auto& id : ids) fam.with(id).increment();  // create all, then cycle through the cache
  CHECK(obs_test::allocations_in([&] {
          for (int round = 0; round < 3; ++round)
            for (const auto& id : ids) fam.with(id).increment();
        }) == 0);
}

TEST_CASE("a thread's first recording allocates nothing") {
  obs::registry reg;
  obs::counter c = reg.counter("first_total");
  std::size_t counted = 1;
  std::thread([&] { counted = obs_test::allocations_in([&] { c.increment(); }); }).join();
  CHECK(counted == 0);
}

TEST_CASE("a registry snapshot + render of 11,000 series stays within 100 allocations") {
  obs::registry reg;
  for (int m = 0; m < 10; ++m) {
    auto f = reg.counter_family("app_requests_" + std::to_string(m) + "_total", {"route", "status"});
    for (int i = 0; i < 1000; ++i) f.with("/api/v1/resource/" + std::to_string(i), "200").increment();
  }
  auto h = reg.histogram_family("app_request_duration_seconds", {"route"});
  for (int i = 0; i < 1000; ++i) h.with("/api/v1/resource/" + std::to_string(i)).record(0.1);

  std::string text;
  CHECK(obs_test::allocations_in([&] { text = obs::prometheus::render(reg.snapshot()); }) <= 100);
  CHECK(text.size() > 1000000);  // the render really covered the series
  CHECK(obs_test::allocations_in([&] { text = obs::openmetrics::render(reg.snapshot()); }) <= 100);
  CHECK(obs_test::allocations_in([&] { text = obs::json::render(reg.snapshot()); }) <= 100);
}
