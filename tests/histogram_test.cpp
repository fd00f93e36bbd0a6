#include "obs/histogram.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "obs/detail/histogram_layout.hpp"
#include "obs/registry.hpp"

namespace {
const obs::series_snapshot& only_series(const obs::snapshot& s, std::string_view name) {
  const obs::family_snapshot* f = s.find(name);
  REQUIRE(f != nullptr);
  REQUIRE(f->series.size() == 1);
  return f->series[0];
}
}  // namespace

TEST_CASE("explicit buckets count values <= their bound, cumulatively") {
  obs::registry reg;
  reg.set_buckets_for_metric(obs::matcher::full("size_bytes"), {1, 10, 100});
  obs::histogram h = reg.histogram("size_bytes");
  for (double v : {0.5, 1.0, 5.0, 10.0, 50.0, 1000.0}) h.record(v);
  obs::snapshot s = reg.snapshot();
  const auto& series = only_series(s, "size_bytes");
  REQUIRE(series.buckets.size() == 4);
  CHECK(series.buckets[0].upper_bound == 1);
  CHECK(series.buckets[0].cumulative_count == 2);
  CHECK(series.buckets[1].cumulative_count == 4);
  CHECK(series.buckets[2].cumulative_count == 5);
  CHECK(std::isinf(series.buckets[3].upper_bound));
  CHECK(series.buckets[3].cumulative_count == 6);
  CHECK(series.count == 6);
  CHECK(series.sum == Approx(1066.5));
  CHECK(h.count() == 6);
  CHECK(h.sum() == Approx(1066.5));
}

TEST_CASE("many bounds use the binary search and agree with a linear scan") {
  obs::registry reg;
  std::vector<double> bounds = obs::linear_buckets(0, 1, 100);
  reg.set_buckets_for_metric(obs::matcher::full("many"), bounds);
  obs::histogram h = reg.histogram("many");
  for (int i = 0; i < 1000; ++i) h.record(i * 0.123);
  obs::snapshot snap_47 = reg.snapshot();
  const auto& series = only_series(snap_47, "many");
  for (std::size_t b = 0; b < bounds.size(); ++b) {
    std::uint64_t expected = 0;
    for (int i = 0; i < 1000; ++i) expected += (i * 0.123 <= bounds[b]);
    CHECK(series.buckets[b].cumulative_count == expected);
  }
}

TEST_CASE("+Inf lands in the +Inf bucket; NaN and negatives are refused and counted") {
  obs::registry reg;
  obs::histogram h = reg.histogram("odd_seconds");
  h.record(std::numeric_limits<double>::quiet_NaN());
  h.record(-std::numeric_limits<double>::quiet_NaN());  // the sign bit set: the lookup's range check sees it first
  h.record(std::numeric_limits<double>::infinity());
  h.record(-std::numeric_limits<double>::infinity());
  h.record(-0.5);
  h.record(0.0);
  reg.histogram_family("odd_seconds", {}).with().record(-1.0);
  obs::snapshot snap_61 = reg.snapshot();
  const auto& series = only_series(snap_61, "odd_seconds");
  CHECK(series.count == 2);
  CHECK(series.buckets.front().cumulative_count == 1);
  CHECK(series.sum == std::numeric_limits<double>::infinity());  // counter-like: never NaN, never down
  CHECK(only_series(snap_61, "obs_rejected_values_total").value.as_integer() == 5);
}

TEST_CASE("a histogram with a negative bound takes negative values, and only NaN is refused") {
  obs::registry reg;
  reg.set_buckets_for_metric(obs::matcher::full("temperature_celsius"), {-10, 0, 10});
  obs::histogram h = reg.histogram("temperature_celsius");
  h.record(-20);
  h.record(-std::numeric_limits<double>::infinity());
  h.record(5);
  h.record(std::numeric_limits<double>::quiet_NaN());
  obs::snapshot s = reg.snapshot();
  const auto& series = only_series(s, "temperature_celsius");
  CHECK(series.count == 3);
  CHECK(series.buckets.front().cumulative_count == 2);
  CHECK(only_series(s, "obs_rejected_values_total").value.as_integer() == 1);
}

TEST_CASE("high-resolution histograms refuse negative values: their quantiles and sum are counter-like") {
  obs::registry reg;
  reg.set_histogram_config(obs::matcher::full("hr_seconds"), obs::histogram_config::high_resolution());
  obs::histogram h = reg.histogram("hr_seconds");
  h.record(-1);
  h.record(1);
  obs::snapshot s = reg.snapshot();
  CHECK(only_series(s, "hr_seconds").count == 1);
  CHECK(only_series(s, "obs_rejected_values_total").value.as_integer() == 1);
}

TEST_CASE("durations record as seconds") {
  obs::registry reg;
  obs::histogram h = reg.histogram("wait_seconds");
  h.record(std::chrono::milliseconds(250));
  CHECK(h.sum() == Approx(0.25));
}

TEST_CASE("high-resolution histograms answer quantiles within 1% and export as summaries") {
  obs::registry reg;
  reg.set_histogram_config(obs::matcher::full("latency_seconds"), obs::histogram_config::high_resolution());
  obs::histogram h = reg.histogram("latency_seconds");
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> dist(-6, 1.5);  // ~2.5 ms median, wide tail
  std::vector<double> values(100000);
  for (double& v : values) {
    v = dist(rng);
    h.record(v);
  }
  std::sort(values.begin(), values.end());
  obs::snapshot s = reg.snapshot();
  const auto& series = only_series(s, "latency_seconds");
  CHECK(s.find("latency_seconds")->type == obs::metric_type::summary);
  REQUIRE(series.quantiles.size() == 3);
  CHECK(series.count == values.size());
  for (const obs::quantile_value& q : series.quantiles) {
    auto rank = static_cast<std::size_t>(std::ceil(q.quantile * static_cast<double>(values.size())));
    double exact = values[rank - 1];
    INFO("q=" << q.quantile << " exact=" << exact << " estimate=" << q.value);
    CHECK(std::abs(q.value - exact) / exact <= 0.01);
  }
}

TEST_CASE("high-resolution bucket edges keep the 1% bound across the whole range") {
  for (double v = 1.1e-6; v < 1e6; v *= 1.37) {
    obs::registry one;
    one.set_histogram_config(obs::matcher::full("edges"),
                             obs::histogram_config::high_resolution(1e-6, 1e6, {1.0}));
    one.histogram("edges").record(v);
    double estimate = only_series(one.snapshot(), "edges").quantiles[0].value;
    INFO("v=" << v << " estimate=" << estimate);
    CHECK(std::abs(estimate - v) / v <= 0.01);
  }
}

TEST_CASE("an empty high-resolution histogram reports NaN quantiles") {
  obs::registry reg;
  reg.set_histogram_config(obs::matcher::prefix("hr_"), obs::histogram_config::high_resolution());
  reg.histogram("hr_seconds");
  obs::snapshot snap_115 = reg.snapshot();
  const auto& series = only_series(snap_115, "hr_seconds");
  CHECK(series.count == 0);
  CHECK(std::isnan(series.quantiles[0].value));
}

TEST_CASE("high_resolution validates its range and quantiles") {
  CHECK_THROWS_AS(obs::histogram_config::high_resolution(0, 1), obs::error);
  CHECK_THROWS_AS(obs::histogram_config::high_resolution(1, 1), obs::error);
  CHECK_THROWS_AS(obs::histogram_config::high_resolution(1e-9, 1, {1.5}), obs::error);
}

TEST_CASE("the explicit bucket lookup agrees with a plain search everywhere") {
  const std::vector<std::vector<double>> bound_sets = {
      obs::default_buckets(),
      obs::linear_buckets(0, 1, 100),
      obs::exponential_buckets(1e-6, 1.5, 60),
      {1, 1.001, 1.002, 2},   // bounds closer than one log-linear bucket
      {-5, -1, 0, 1e-12, 1e12},  // outside the lookup's range
      {},
  };
  auto plain = [](const std::vector<double>& bounds, double v) {
    std::size_t i = 0;
    while (i < bounds.size() && !(v <= bounds[i])) ++i;
    return i;
  };
  for (const auto& bounds : bound_sets) {
    auto layout = obs::detail::histogram_layout::explicit_buckets(bounds);
    // record() uses any entry below lookup_limit unchecked; bounds the
    // lookup cannot place send every value to the general path.
    const bool close_bounds = bounds.size() == 4 && bounds[1] == 1.001;
    CHECK(layout.lookup_limit == (close_bounds ? 0 : obs::detail::histogram_buckets::lookup_entries - 2));
    CHECK(layout.inline_lookup_limit == layout.lookup_limit);
    for (std::uint64_t j = 0; j < layout.lookup_limit; ++j)
      REQUIRE(layout.lookup_table[j + 1] != obs::detail::histogram_buckets::no_lookup);
    std::vector<double> probes = {0.0, -0.0, -1.0, 1e-300, 1e300, std::numeric_limits<double>::infinity(),
                                  -std::numeric_limits<double>::infinity(),
                                  std::numeric_limits<double>::quiet_NaN(), 0x1p-32, 0x1p32};
    for (double b : bounds)
      for (double v : {b, std::nextafter(b, -1e308), std::nextafter(b, 1e308), b * 1.01, b / 1.01})
        probes.push_back(v);
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<double> exponent(-40, 40);
    for (int i = 0; i < 20000; ++i) probes.push_back(std::pow(2.0, exponent(rng)));
    for (double v : probes) {
      INFO("bounds=" << bounds.size() << " v=" << v);
      REQUIRE(layout.bucket_index(v) == plain(bounds, v));
    }
  }
}

TEST_CASE("recording lands where a plain search says, in and out of the lookup's range") {
  // record() takes a short path for values the lookup places and an
  // out-of-line one for the rest (zero, negatives, values outside
  // [2^-32, 2^32), bounds closer than the lookup's resolution).
  const std::vector<std::vector<double>> bound_sets = {
      obs::default_buckets(), {1, 1.001, 1.002, 2}, {-5, -1, 0, 1e-12, 1e12}, {0x1p-32, 0x1p32}, {}};
  int family = 0;
  for (const auto& bounds : bound_sets) {
    obs::registry reg;
    const std::string name = "lookup_" + std::to_string(family++) + "_seconds";
    reg.set_histogram_config(obs::matcher::full(name), obs::histogram_config::explicit_buckets(bounds));
    obs::histogram h = reg.histogram(name);
    const bool negatives = !bounds.empty() && bounds.front() < 0;
    std::vector<double> probes = {0.0, -0.0, 1e-300, 1e300, std::numeric_limits<double>::infinity(), 0x1p-32,
                                  std::nextafter(0x1p-32, 0), 0x1p32, std::nextafter(0x1p32, 0), 3.5};
    if (negatives) probes.insert(probes.end(), {-1.0, -7.0, -std::numeric_limits<double>::infinity()});
    for (double b : bounds)
      for (double v : {b, std::nextafter(b, -1e308), std::nextafter(b, 1e308), b * 1.01, b / 1.01})
        if (v >= 0 || negatives) probes.push_back(v);
    std::mt19937_64 rng(11);
    std::uniform_real_distribution<double> exponent(-40, 40);
    for (int i = 0; i < 5000; ++i) probes.push_back(std::pow(2.0, exponent(rng)));

    std::vector<std::uint64_t> want(bounds.size() + 1, 0);
    for (double v : probes) {
      std::size_t i = 0;
      while (i < bounds.size() && !(v <= bounds[i])) ++i;
      ++want[i];
      h.record(v);
    }
    const obs::snapshot snap = reg.snapshot();
    const auto& buckets = snap.find(name)->series[0].buckets;
    REQUIRE(buckets.size() == want.size());
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < want.size(); ++i) {
      cumulative += want[i];
      INFO("bounds=" << bounds.size() << " bucket " << i);
      CHECK(buckets[i].cumulative_count == cumulative);
    }
    CHECK(h.count() == probes.size());
  }
}
