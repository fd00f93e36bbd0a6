// OBS_SCOPED_TIMER with OBS_DISABLE=1: compiles, records nothing.
#define OBS_DISABLE 1
#include "obs/scoped_timer.hpp"

#include <catch2/catch.hpp>

#include "obs/registry.hpp"

TEST_CASE("a disabled OBS_SCOPED_TIMER registers nothing") {
  {
    OBS_SCOPED_TIMER("timer_test_disabled_seconds", "op", "get");
  }
  obs::snapshot s = obs::global_registry().snapshot();
  CHECK(s.find("timer_test_disabled_seconds") == nullptr);
}
