#include "obs/handles.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <type_traits>

#include "obs/registry.hpp"

namespace {

std::uint64_t value(const obs::snapshot& s, std::string_view name, std::string_view status) {
  const obs::family_snapshot* f = s.find(name);
  REQUIRE(f != nullptr);
  for (const auto& series : f->series)
    if (!series.labels.empty() && series.labels[0].value == status) return series.value.as_integer();
  FAIL("no series with status " << status);
  return 0;
}

}  // namespace

TEST_CASE("without OBS_DISABLE the handles are the real ones") {
  static_assert(std::is_same_v<obs::counter_handle, obs::counter>);
  static_assert(std::is_same_v<obs::float_counter_handle, obs::float_counter>);
  static_assert(std::is_same_v<obs::gauge_handle, obs::gauge>);
  static_assert(std::is_same_v<obs::histogram_handle, obs::histogram>);
}

TEST_CASE("a family handle starts empty in a struct, takes the registry's family and looks up with with()") {
  struct metrics {
    obs::counter_family_handle requests;
    obs::histogram_family_handle latency;
  } m;
  m.requests.with("/before", "200").increment();  // nothing assigned yet: records nowhere
  m.latency.with("/before").record(1);
  obs::registry reg;
  m.requests = reg.counter_family("handles_test_requests_total", {"route", "status"});
  m.latency = reg.histogram_family("handles_test_latency_seconds", {"route"});
  const std::string route = "/users/{id}";
  m.requests.with(route, "200").increment();
  m.requests.with(route, "200").increment(2);
  m.latency.with(route).record(0.5);
  const obs::snapshot s = reg.snapshot();
  CHECK(value(s, "handles_test_requests_total", route) == 3);
  CHECK(s.find("handles_test_requests_total")->series.size() == 1);
  const obs::family_snapshot* h = s.find("handles_test_latency_seconds");
  REQUIRE(h != nullptr);
  REQUIRE(h->series.size() == 1);
  CHECK(h->series[0].count == 1);
}

TEST_CASE("gauge and float counter family handles") {
  obs::registry reg;
  obs::gauge_family_handle open = reg.gauge_family("handles_test_open_by", {"side"});
  obs::float_counter_family_handle busy = reg.float_counter_family("handles_test_busy_seconds_total", {"side"});
  open.with("client").set(4);
  busy.with("client").increment(1.5);
  const obs::snapshot s = reg.snapshot();
  CHECK(s.find("handles_test_open_by")->series[0].value.as_double() == 4);
  CHECK(s.find("handles_test_busy_seconds_total")->series[0].value.as_double() == 1.5);
}

TEST_CASE("handles(): one series per label value, in the values' order, recorded without a lookup") {
  obs::registry reg;
  auto family = reg.counter_family("handles_test_total", {"status"});
  const std::array<std::string_view, 3> statuses{"hit", "miss", "error"};
  std::array<obs::counter_handle, 3> by_status = obs::handles<obs::counter_handle>(family, statuses);
  by_status[0].increment();
  by_status[2].increment(7);
  auto written = obs::handles<obs::counter_handle>(family, {"hit", "miss"});
  written[0].increment();
  const obs::snapshot s = reg.snapshot();
  CHECK(value(s, "handles_test_total", "hit") == 2);
  CHECK(value(s, "handles_test_total", "miss") == 0);
  CHECK(value(s, "handles_test_total", "error") == 7);
  // The series exist from the start, so a rate over them begins at 0.
  CHECK(s.find("handles_test_total")->series.size() == 3);
}

TEST_CASE("handles() of histograms and gauges") {
  obs::registry reg;
  auto latency = obs::handles<obs::histogram_handle>(reg.histogram_family("handles_test_seconds", {"source"}),
                                                    {"cache", "origin"});
  latency[1].record(0.25);
  auto open = obs::handles<obs::gauge_handle>(reg.gauge_family("handles_test_open", {"side"}), {"client"});
  open[0].increment(2);
  const obs::snapshot s = reg.snapshot();
  const obs::family_snapshot* h = s.find("handles_test_seconds");
  REQUIRE(h != nullptr);
  REQUIRE(h->series.size() == 2);
  std::uint64_t counted = 0;
  for (const auto& series : h->series) counted += series.count;
  CHECK(counted == 1);
  CHECK(s.find("handles_test_open")->series[0].value.as_double() == 2);
}
