#include "obs/gauge.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "obs/registry.hpp"

TEST_CASE("gauges set, increment and decrement") {
  obs::registry reg;
  obs::gauge g = reg.gauge("active_connections");
  g.set(10);
  g.increment();
  g.increment(2.5);
  g.decrement(0.5);
  CHECK(g.value() == 13);
  obs::snapshot snap_18 = reg.snapshot();
  CHECK(snap_18.find("active_connections")->series[0].value.as_double() == 13);
}

TEST_CASE("gauges hold NaN and infinities") {
  obs::registry reg;
  obs::gauge g = reg.gauge("odd");
  g.set(std::numeric_limits<double>::quiet_NaN());
  CHECK(std::isnan(g.value()));
  g.set(-std::numeric_limits<double>::infinity());
  obs::snapshot snap_27 = reg.snapshot();
  CHECK(snap_27.find("odd")->series[0].value.as_double() == -std::numeric_limits<double>::infinity());
}
