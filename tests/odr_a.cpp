// One of two translation units that record through the same inline call
// sites and registry: the ODR test links them into one program.
#include "obs/metrics.hpp"
// Reading what the macros recorded needs the registry; recording does not.
#include "obs/registry.hpp"

#include <catch2/catch.hpp>

#include "odr_shared.hpp"

TEST_CASE("two translation units share one call-site series and one registry") {
  record_in_a();
  record_in_b();
  obs::snapshot s = obs::global_registry().snapshot();
  const obs::family_snapshot* f = s.find("odr_test_total");
  REQUIRE(f != nullptr);
  REQUIRE(f->series.size() == 1);
  CHECK(f->series[0].value.as_integer() == 2);
  CHECK(&obs::global_registry() == registry_seen_by_b());
}

void record_in_a() { record_shared(); }
