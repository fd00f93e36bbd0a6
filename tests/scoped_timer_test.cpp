#include "obs/scoped_timer.hpp"

#include <catch2/catch.hpp>

#include <stdexcept>
#include <thread>

#include "obs/registry.hpp"

namespace {
const obs::series_snapshot* find_series(const obs::snapshot& s, std::string_view name) {
  const obs::family_snapshot* f = s.find(name);
  return f != nullptr && f->series.size() == 1 ? &f->series[0] : nullptr;
}
}  // namespace

TEST_CASE("a scoped timer records one observation when its scope ends") {
  obs::registry reg;
  obs::histogram h = reg.histogram("timer_test_seconds");
  {
    obs::scoped_timer t(h);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    CHECK(h.count() == 0);
  }
  CHECK(h.count() == 1);
  CHECK(h.sum() >= 0.002);
}

TEST_CASE("stop() records once and returns the elapsed seconds; later calls and the destructor add nothing") {
  obs::registry reg;
  obs::histogram h = reg.histogram("timer_test_stop_seconds");
  {
    obs::scoped_timer t(h);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    double took = t.stop();
    CHECK(took >= 0.001);
    CHECK(h.sum() == Approx(took));
    CHECK(t.stop() == 0);
  }
  CHECK(h.count() == 1);
}

TEST_CASE("cancel() records nothing") {
  obs::registry reg;
  obs::histogram h = reg.histogram("timer_test_cancel_seconds");
  {
    obs::scoped_timer t(h);
    t.cancel();
  }
  CHECK(h.count() == 0);
}

TEST_CASE("a timer records when its scope is left by an exception") {
  obs::registry reg;
  obs::histogram h = reg.histogram("timer_test_throw_seconds");
  try {
    obs::scoped_timer t(h);
    throw std::runtime_error("boom");
  } catch (const std::runtime_error&) {
  }
  CHECK(h.count() == 1);
}

TEST_CASE("a timer keeps the series of a family's with() alive by itself") {
  obs::registry reg;
  auto fam = reg.histogram_family("timer_test_family_seconds", {"op"});
  { obs::scoped_timer t(fam.with("put")); }
  obs::snapshot s = reg.snapshot();
  const obs::series_snapshot* series = find_series(s, "timer_test_family_seconds");
  REQUIRE(series != nullptr);
  CHECK(series->count == 1);
  CHECK(series->labels.size() == 1);
}

TEST_CASE("OBS_SCOPED_TIMER records into the global registry's histogram with literal labels") {
  for (int i = 0; i < 3; ++i) {
    OBS_SCOPED_TIMER("timer_test_macro_seconds", "op", "get");
    OBS_SCOPED_TIMER("timer_test_macro_other_seconds");  // two on one scope
  }
  obs::snapshot s = obs::global_registry().snapshot();
  const obs::series_snapshot* series = find_series(s, "timer_test_macro_seconds");
  REQUIRE(series != nullptr);
  CHECK(series->count == 3);
  const obs::series_snapshot* other = find_series(s, "timer_test_macro_other_seconds");
  REQUIRE(other != nullptr);
  CHECK(other->count == 3);
}
