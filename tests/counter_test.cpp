#include "obs/counter.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdint>
#include <limits>
#include <string>
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

TEST_CASE("a counter saturates at 2^64 - 1 instead of wrapping") {
  obs::registry reg;
  obs::counter c = reg.counter("huge_total");
  constexpr std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
  c.increment(max);
  c.increment(2);
  CHECK(c.sum() == max);
  // Two thread shards whose sum passes 2^64.
  obs::counter d = reg.counter("split_total");
  d.increment(max - 1);
  std::thread([&] { d.increment(6); }).join();
  CHECK(d.sum() == max);
  obs::snapshot s = reg.snapshot();
  CHECK(s.find("split_total")->series[0].value.as_integer() == max);
}

TEST_CASE("racing absolute() calls raise the counter to the target once") {
  obs::registry reg;
  for (int trial = 0; trial < 500; ++trial) {
    obs::counter c = reg.counter("raced_total", {{"trial", std::to_string(trial)}});
    std::atomic<int> ready{0};
    auto raise = [&] {
      ready.fetch_add(1);
      while (ready.load() < 2) {
      }
      c.absolute(100);
    };
    std::thread a(raise), b(raise);
    a.join();
    b.join();
    REQUIRE(c.sum() == 100);
  }
}

TEST_CASE("float counters refuse negative and NaN increments and count them") {
  obs::registry reg;
  obs::float_counter f = reg.float_counter("busy_seconds_total");
  f.increment(1.5);
  f.increment(-1);
  f.increment(std::numeric_limits<double>::quiet_NaN());
  reg.float_counter_family("busy_seconds_total", {}).with().increment(-2);
  CHECK(f.sum() == 1.5);
  obs::snapshot s = reg.snapshot();
  CHECK(s.find("obs_rejected_values_total")->series[0].value.as_integer() == 3);
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
