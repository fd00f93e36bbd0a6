// Native histograms: Prometheus's bucket index, the sparse counts, what
// snapshots export (spans, coarsening, classic buckets) and what they cost.
#include "obs/detail/exponential_buckets.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include "obs/detail/histogram_layout.hpp"
#include "obs/detail/native_counts.hpp"
#include "obs/histogram.hpp"
#include "obs/registry.hpp"
#include "support/counting_new.hpp"

namespace {

const obs::series_snapshot& only_series(const obs::snapshot& s, std::string_view name) {
  const obs::family_snapshot* f = s.find(name);
  REQUIRE(f != nullptr);
  REQUIRE(f->series.size() == 1);
  return f->series[0];
}

/// The native bucket of `v > 0` by the definition, in long double: the
/// smallest i with v <= 2^(i / 2^schema).
std::int64_t reference_index(double v, int schema) {
  return static_cast<std::int64_t>(std::ceil(std::log2(static_cast<long double>(v)) * std::ldexp(1.0L, schema)));
}

/// The index `locate` gives, as a native index at the scheme's schema.
std::int64_t located_index(const obs::detail::exponential_scheme& scheme, double v) {
  const auto at = scheme.locate(v);
  REQUIRE(!at.zero);
  const std::int64_t octave = scheme.min_octave + static_cast<std::int64_t>(at.page % scheme.octaves());
  return (octave << scheme.schema) + at.bucket + 1;
}

/// Buckets of a native histogram as (index, count), from its spans.
std::vector<std::pair<std::int64_t, std::uint64_t>> expand(std::span<const obs::bucket_span> spans,
                                                           std::span<const std::uint64_t> counts) {
  std::vector<std::pair<std::int64_t, std::uint64_t>> out;
  std::int64_t index = 0;
  std::size_t k = 0;
  for (std::size_t s = 0; s < spans.size(); ++s) {
    index += spans[s].offset;
    for (std::uint32_t i = 0; i < spans[s].length; ++i) out.emplace_back(index++, counts[k++]);
  }
  return out;
}

}  // namespace

TEST_CASE("the bucket index is Prometheus's at every schema, bounds included") {
  for (int schema : {0, 1, 3, 5, 8}) {
    const auto layout = obs::detail::histogram_layout::explicit_buckets({}).with_exponential(schema, -40, 40, 1);
    std::mt19937_64 rng(schema);
    std::uniform_real_distribution<double> log_value(-39, 39);
    for (int i = 0; i < 20000; ++i) {
      const double v = std::exp2(log_value(rng));
      INFO("schema " << schema << " v " << v);
      CHECK(located_index(layout.scheme, v) == reference_index(v, schema));
    }
    // A bucket's upper bound, as a double, is in it (buckets are (lower,
    // upper]); the next double is not. Prometheus compares with the same
    // doubles, so values exactly at a bound land where it puts them.
    for (std::int64_t i = -30 << schema; i < (30 << schema); i += 7) {
      const double bound = std::exp2(static_cast<double>(i) / std::ldexp(1.0, schema));
      INFO("schema " << schema << " bound of " << i);
      CHECK(located_index(layout.scheme, bound) == i);
      CHECK(located_index(layout.scheme, std::nextafter(bound, 1e300)) == i + 1);
    }
  }
}

TEST_CASE("zero, tiny, huge and negative values find their buckets") {
  const auto layout = obs::detail::histogram_layout::explicit_buckets({}).with_exponential(5, -10, 10, 1);
  const auto& scheme = layout.scheme;
  CHECK(scheme.locate(0.0).zero);
  CHECK(scheme.locate(-0.0).zero);
  CHECK(scheme.locate(std::ldexp(1.0, -10)).zero);  // the threshold itself
  CHECK(!scheme.locate(std::nextafter(std::ldexp(1.0, -10), 1.0)).zero);
  CHECK(scheme.locate(std::numeric_limits<double>::denorm_min()).zero);
  // Above the range: its top bucket.
  const auto top = scheme.locate(1e300);
  CHECK(top.page == scheme.octaves() - 1);
  CHECK(top.bucket == 31);
  CHECK(scheme.locate(std::numeric_limits<double>::infinity()).page == scheme.octaves() - 1);
  // Negatives: the mirror pages.
  const auto positive = scheme.locate(0.3), negative = scheme.locate(-0.3);
  CHECK(negative.page == positive.page + scheme.octaves());
  CHECK(negative.bucket == positive.bucket);
}

TEST_CASE("a native histogram exports its buckets as spans, with classic buckets at powers of two") {
  obs::registry reg;
  reg.set_histogram_config(obs::matcher::full("latency_seconds"), obs::histogram_config::native());
  obs::histogram h = reg.histogram("latency_seconds");
  const std::vector<double> values = {0, 1e-12, 0.001, 0.0011, 0.001, 0.5, 0.75, 3, -0.25, -2};
  double sum = 0;
  for (double v : values) {
    h.record(v);
    sum += v;
  }
  obs::snapshot s = reg.snapshot();
  CHECK(s.find("latency_seconds")->type == obs::metric_type::histogram);
  const auto& series = only_series(s, "latency_seconds");
  CHECK(series.count == values.size());
  CHECK(series.sum == Approx(sum));
  REQUIRE(series.native != nullptr);
  const obs::native_histogram_snapshot& n = *series.native;
  CHECK(n.schema == 5);
  CHECK(n.zero_threshold == std::ldexp(1.0, std::ilogb(1e-9)));
  CHECK(n.zero_count == 2);
  // Each value in the bucket the definition gives, counted once.
  std::map<std::int64_t, std::uint64_t> positive, negative;
  for (double v : values) {
    if (std::abs(v) <= n.zero_threshold) continue;
    (v > 0 ? positive : negative)[reference_index(std::abs(v), 5)]++;
  }
  auto as_map = [](const auto& buckets) { return std::map<std::int64_t, std::uint64_t>(buckets.begin(), buckets.end()); };
  CHECK(as_map(expand(n.positive_spans, n.positive_counts)) == positive);
  CHECK(as_map(expand(n.negative_spans, n.negative_counts)) == negative);
  // Classic buckets: the threshold holds the negatives and zeros, then powers of two.
  REQUIRE(series.buckets.size() >= 3);
  CHECK(series.buckets[0].upper_bound == n.zero_threshold);
  CHECK(series.buckets[0].cumulative_count == 4);
  for (const obs::bucket_count& b : series.buckets) {
    std::uint64_t expected = 0;
    for (double v : values) expected += v <= b.upper_bound || (b.upper_bound == n.zero_threshold && std::abs(v) <= b.upper_bound);
    INFO("le " << b.upper_bound);
    CHECK(b.cumulative_count == expected);
    if (std::isfinite(b.upper_bound) && b.upper_bound != n.zero_threshold)
      CHECK(b.upper_bound == std::ldexp(1.0, std::ilogb(b.upper_bound)));
  }
  CHECK(series.buckets.back().upper_bound == std::numeric_limits<double>::infinity());
}

TEST_CASE("explicit buckets with native ones record both") {
  obs::registry reg;
  reg.set_histogram_config(obs::matcher::full("wait_seconds"),
                           obs::histogram_config::explicit_buckets({0.01, 0.1, 1}).with_native({.schema = 3}));
  obs::histogram h = reg.histogram("wait_seconds");
  for (double v : {0.005, 0.05, 0.5, 5.0}) h.record(v);
  h.record(-1);  // explicit buckets without a negative bound keep the sum counter-like
  obs::snapshot s = reg.snapshot();
  const auto& series = only_series(s, "wait_seconds");
  CHECK(series.count == 4);
  REQUIRE(series.buckets.size() == 4);
  CHECK(series.buckets[1].upper_bound == 0.1);
  CHECK(series.buckets[1].cumulative_count == 2);
  REQUIRE(series.native != nullptr);
  CHECK(series.native->schema == 3);
  CHECK(expand(series.native->positive_spans, series.native->positive_counts).size() == 4);
  CHECK(only_series(s, "obs_rejected_values_total").value.as_integer() == 1);
}

TEST_CASE("explicit bounds closer than the lookup resolves still land right beside native ones") {
  // 1.001 and 1.002 share a range of the explicit lookup, whose entries the
  // native record then may not use; every value takes the general path.
  const std::vector<double> bounds = {1, 1.001, 1.002, 2};
  obs::registry reg;
  reg.set_histogram_config(obs::matcher::full("close_seconds"),
                           obs::histogram_config::explicit_buckets(bounds).with_native({.schema = 3}));
  obs::histogram h = reg.histogram("close_seconds");
  const std::vector<double> values = {0.5, 1, 1.0005, 1.001, 1.0015, 1.002, 1.5, 2, 3};
  for (double v : values) h.record(v);
  obs::snapshot s = reg.snapshot();
  const auto& series = only_series(s, "close_seconds");
  REQUIRE(series.buckets.size() == bounds.size() + 1);
  const std::vector<std::uint64_t> cumulative = {2, 4, 6, 8, 9};  // a value on a bound counts in its bucket
  for (std::size_t i = 0; i < cumulative.size(); ++i) {
    INFO("bucket " << i);
    CHECK(series.buckets[i].cumulative_count == cumulative[i]);
  }
  REQUIRE(series.native != nullptr);
  std::uint64_t native_total = 0;
  for (const auto& [index, count] : expand(series.native->positive_spans, series.native->positive_counts))
    native_total += count;
  CHECK(native_total == values.size());
}

TEST_CASE("more populated buckets than max_buckets halve the exported resolution, exactly") {
  obs::registry reg;
  reg.set_histogram_config(obs::matcher::full("wide_seconds"),
                           obs::histogram_config::native({.schema = 5, .max_buckets = 20}));
  obs::histogram h = reg.histogram("wide_seconds");
  std::vector<double> values;
  for (double v = 1e-6; v < 100; v *= 1.01) values.push_back(v);
  for (double v : values) h.record(v);
  obs::snapshot s = reg.snapshot();
  const obs::native_histogram_snapshot& n = *only_series(s, "wide_seconds").native;
  const auto buckets = expand(n.positive_spans, n.positive_counts);
  CHECK(buckets.size() <= 20);
  CHECK(n.schema < 5);
  CHECK(n.schema >= -4);
  std::map<std::int64_t, std::uint64_t> expected;
  for (double v : values) expected[reference_index(v, n.schema)]++;
  CHECK(std::map<std::int64_t, std::uint64_t>(buckets.begin(), buckets.end()) == expected);
}

TEST_CASE("a negative schema exports buckets 2^(2^-schema) wide") {
  obs::registry reg;
  reg.set_histogram_config(obs::matcher::full("coarse_bytes"), obs::histogram_config::native({.schema = -2}));
  obs::histogram h = reg.histogram("coarse_bytes");
  for (double v : {1.0, 15.0, 16.0, 17.0, 4096.0}) h.record(v);
  obs::snapshot s = reg.snapshot();
  const obs::native_histogram_snapshot& n = *only_series(s, "coarse_bytes").native;
  CHECK(n.schema == -2);
  // Base 16: (1/16, 1], (1, 16], (16, 256], (256, 4096].
  using bucket = std::pair<std::int64_t, std::uint64_t>;
  CHECK(expand(n.positive_spans, n.positive_counts) == std::vector<bucket>{{0, 1}, {1, 2}, {2, 1}, {3, 1}});
}

TEST_CASE("native counts stay exact under many threads while snapshots run") {
  obs::registry reg;
  reg.set_histogram_config(obs::matcher::full("busy_seconds"), obs::histogram_config::native());
  obs::histogram h = reg.histogram("busy_seconds");
  constexpr int threads = 8, per_thread = 20000;
  std::atomic<bool> done{false};
  std::thread scraper([&] {
    while (!done.load()) {
      obs::snapshot s = reg.snapshot();
      const auto& series = only_series(s, "busy_seconds");
      CHECK(series.count <= std::uint64_t{threads} * per_thread);
    }
  });
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      std::uniform_real_distribution<double> log_value(-20, 5);
      for (int i = 0; i < per_thread; ++i) h.record(std::exp2(log_value(rng)));
    });
  for (auto& w : workers) w.join();
  done = true;
  scraper.join();
  obs::snapshot s = reg.snapshot();
  const auto& series = only_series(s, "busy_seconds");
  CHECK(series.count == std::uint64_t{threads} * per_thread);
  CHECK(h.count() == std::uint64_t{threads} * per_thread);
  std::uint64_t in_buckets = series.native->zero_count;
  for (std::uint64_t c : series.native->positive_counts) in_buckets += c;
  CHECK(in_buckets == series.count);
}

TEST_CASE("memory follows the observed range: one page per power of two seen") {
  obs::registry reg;
  reg.set_histogram_config(obs::matcher::full("paged_seconds"), obs::histogram_config::native());
  obs::histogram h = reg.histogram("paged_seconds");
  // 1 us to 10 s is 24 powers of two: a stripe and 24 pages of 32 counts.
  const std::size_t allocations = obs_test::allocations_in([&] {
    for (double v = 1e-6; v < 10; v *= 1.05) h.record(v);
  });
  CHECK(allocations == 1 + 24);
  // After that, recording allocates nothing.
  CHECK(obs_test::allocations_in([&] {
          for (double v = 1e-6; v < 10; v *= 1.05) h.record(v);
        }) == 0);
}
