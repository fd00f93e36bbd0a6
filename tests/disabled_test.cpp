// OBS_DISABLE=1 turns the macros into nothing that still type-checks.
#define OBS_DISABLE 1
#include "obs/metrics.hpp"
#include "obs/handles.hpp"
// Reading what the macros recorded needs the registry; recording does not.
#include "obs/registry.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <string>
#include <type_traits>

TEST_CASE("disabled macros register nothing") {
  OBS_COUNTER("disabled_test_total", "k", "v").increment();
  OBS_GAUGE("disabled_test_gauge").set(1);
  OBS_HISTOGRAM("disabled_test_seconds").record(std::chrono::milliseconds(3));
  std::string value = "x";
  OBS_COUNTER_FAMILY("disabled_test_family_total", "k").with(value).increment();
  obs::snapshot s = obs::global_registry().snapshot();
  CHECK(s.find("disabled_test_total") == nullptr);
  CHECK(s.find("disabled_test_gauge") == nullptr);
  CHECK(s.find("disabled_test_family_total") == nullptr);
}

TEST_CASE("disabled macros evaluate neither their arguments nor the recording call's") {
  int evaluated = 0;
  auto touch = [&] {
    ++evaluated;
    return std::string("x");
  };
  OBS_COUNTER_FAMILY("disabled_test_lazy_total", "k").with(touch()).increment();
  OBS_HISTOGRAM("disabled_test_lazy_seconds").record(static_cast<double>(touch().size()));
  OBS_GAUGE_FAMILY("disabled_test_lazy", "a", "b").with(touch(), touch()).set(1);
  CHECK(evaluated == 0);
}

TEST_CASE("a disabled macro is a statement that nests like one") {
  bool taken = false;
  if (taken) OBS_COUNTER("disabled_test_nested_total").increment();
  else taken = true;
  CHECK(taken);
}

TEST_CASE("disabled handles take the registry's and record nothing") {
  static_assert(std::is_same_v<obs::counter_handle, obs::detail::disabled_counter>);
  static_assert(std::is_same_v<obs::histogram_handle, obs::detail::disabled_histogram>);
  struct metrics {
    obs::counter_handle hits;
    obs::gauge_handle open;
    std::array<obs::counter_handle, 2> by_status;
  } m;
  obs::registry reg;
  m.hits = reg.counter("disabled_handle_hits_total");
  m.open = reg.gauge("disabled_handle_open");
  m.by_status = obs::handles<obs::counter_handle>(reg.counter_family("disabled_handle_total", {"status"}), {"a", "b"});
  m.hits.increment();
  m.open.set(3);
  m.by_status[1].increment(5);
  // The registry made the series when asked; recording never reached them.
  obs::snapshot s = reg.snapshot();
  const obs::family_snapshot* hits = s.find("disabled_handle_hits_total");
  REQUIRE(hits != nullptr);
  REQUIRE(hits->series.size() == 1);
  CHECK(hits->series[0].value.as_integer() == 0);
}

TEST_CASE("disabled family handles take the registry's families and record nothing") {
  static_assert(std::is_same_v<decltype(obs::counter_family_handle().with("x")), obs::detail::disabled_counter>);
  static_assert(std::is_same_v<decltype(obs::histogram_family_handle().with("x")), obs::detail::disabled_histogram>);
  struct metrics {
    obs::counter_family_handle requests;
    obs::gauge_family_handle open;
    obs::histogram_family_handle latency;
    obs::float_counter_family_handle busy;
  } m;
  obs::registry reg;
  m.requests = reg.counter_family("disabled_family_handle_total", {"route"});
  m.open = reg.gauge_family("disabled_family_handle_open", {"route"});
  m.latency = reg.histogram_family("disabled_family_handle_seconds", {"route"});
  m.busy = reg.float_counter_family("disabled_family_handle_busy_seconds_total", {"route"});
  m.requests.with("/").increment();
  m.requests.with("/").increment(1, {{"trace_id", "4bf92f3577b34da6"}});
  m.open.with("/").set(1);
  m.latency.with("/").record(0.1);
  m.latency.with("/").record(0.1, {{"trace_id", "4bf92f3577b34da6"}});
  m.latency.with("/").record(std::chrono::milliseconds(3), {{"trace_id", "4bf92f3577b34da6"}});
  m.busy.with("/").increment(0.5);
  // A family has no series until a value is recorded, and none was.
  obs::snapshot s = reg.snapshot();
  const obs::family_snapshot* requests = s.find("disabled_family_handle_total");
  CHECK((requests == nullptr || requests->series.empty()));
}
