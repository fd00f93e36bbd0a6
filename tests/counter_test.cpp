#include "obs/counter.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <thread>

#include "obs/registry.hpp"

TEST_CASE("counters add exactly, past 2^53") {
  obs::registry reg;
  obs::counter c = reg.counter("big_total");
  c.increment(std::uint64_t{1} << 60);
  c.increment(1);
  CHECK(c.sum() == (std::uint64_t{1} << 60) + 1);
  obs::snapshot snap_16 = reg.snapshot();
  CHECK(snap_16.find("big_total")->series[0].value.as_integer() == (std::uint64_t{1} << 60) + 1);
}

TEST_CASE("absolute raises, never lowers") {
  obs::registry reg;
  obs::counter c = reg.counter("abs_total");
  c.absolute(10);
  CHECK(c.sum() == 10);
  c.absolute(4);
  CHECK(c.sum() == 10);
}

TEST_CASE("float counters sum doubles") {
  obs::registry reg;
  obs::float_counter c = reg.float_counter("cpu_seconds_total");
  c.increment(0.25);
  c.increment(0.5);
  CHECK(c.sum() == 0.75);
  obs::snapshot snap_34 = reg.snapshot();
  const obs::family_snapshot* f = snap_34.find("cpu_seconds_total");
  CHECK(f->type == obs::metric_type::counter);
  CHECK_FALSE(f->series[0].value.is_integer());
}

TEST_CASE("copies share the series; a moved-from handle is harmless") {
  obs::registry reg;
  obs::counter a = reg.counter("shared_total");
  obs::counter b = a;
  b.increment();
  obs::counter c = std::move(a);
  c.increment();
  a.increment();  // unbound now: goes nowhere
  CHECK(b.sum() == 2);
}

TEST_CASE("increments from a thread that exited are kept") {
  obs::registry reg;
  obs::counter c = reg.counter("exited_total");
  for (int t = 0; t < 50; ++t) std::thread([&] { c.increment(3); }).join();
  CHECK(c.sum() == 150);
}
