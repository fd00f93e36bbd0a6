// OBS_DISABLE=1 turns the macros into nothing that still type-checks.
#define OBS_DISABLE 1
#include "obs/metrics.hpp"

#include <catch2/catch.hpp>

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

TEST_CASE("disabled macros are empty objects the optimizer drops") {
  using handle = decltype(OBS_COUNTER("disabled_test_total"));
  STATIC_REQUIRE(std::is_empty_v<handle>);
  STATIC_REQUIRE(std::is_trivially_copyable_v<handle>);
}
