// detail::histogram_layout: how a histogram family maps a value to a bucket.
//
// Explicit mode: finite, strictly increasing upper bounds; bucket i counts
// values `<= bounds[i]`, one more bucket counts the rest (+Inf). Cells are the
// buckets, then the sum. Finding the bucket must not branch on the value:
// latencies jump between buckets, and a mispredicted scan costs more than the
// whole add. So a table maps each log-linear bucket (below) of [2^-32, 2^32)
// to the first explicit bucket it can fall in, and one compare finishes; only
// values outside that range, NaN, and bounds closer than 1/64 of each other
// take a scan.
//
// High-resolution mode: log-linear buckets, 2^sub_bits per power of two, so a
// bucket is at most 1/64 of its lower edge wide and reporting its midpoint is
// within 1/128 (0.78%) of any value in it. Bucket 0 holds values below
// `min_value` (zero and negatives too), the last bucket values at or above
// `max_value` (and NaN). The sum lives in one sharded cell; bucket counts in
// stripes: the threads holding the first `stripes` slots each own a stripe
// and add with a plain load + store, every other thread adds to one shared
// stripe with fetch_add. A stripe per slot would make a 32 KiB series cost
// 32 KiB per thread slot.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "obs/detail/config.hpp"

OBS_NAMESPACE_BEGIN
namespace detail {

struct histogram_layout {
  static constexpr int sub_bits = 6;
  static constexpr std::uint64_t sub_buckets = 1u << sub_bits;

  bool high_resolution = false;
  std::vector<double> bounds;  ///< explicit mode
  /// The smallest value `record` accepts: 0 while the sum is counter-like
  /// (no negative bound; always in high-resolution mode), else -Inf.
  double min_observation = 0;
  // High-resolution mode: the resolved range [2^min_exponent, 2^max_exponent),
  // the exclusive stripes of bucket counts, and the quantiles exported.
  int min_exponent = 0, max_exponent = 0;
  std::size_t stripes = 0;
  double min_value = 0, max_value = 0;
  std::vector<double> quantiles;

  // Explicit mode's bucket lookup: see the header comment.
  static constexpr int lookup_min_exponent = -32, lookup_max_exponent = 32;
  static constexpr std::uint16_t no_lookup = 0xffff;
  std::vector<double> bounds_then_inf;
  std::vector<std::uint16_t> lookup;

  static histogram_layout explicit_buckets(std::vector<double> bounds) {
    histogram_layout l;
    l.bounds = std::move(bounds);
    if (!l.bounds.empty() && l.bounds.front() < 0) l.min_observation = -std::numeric_limits<double>::infinity();
    l.bounds_then_inf = l.bounds;
    l.bounds_then_inf.push_back(std::numeric_limits<double>::infinity());
    const std::size_t count = log_linear_buckets(lookup_min_exponent, lookup_max_exponent);
    l.lookup.assign(count, no_lookup);
    for (std::size_t j = 1; j + 1 < count; ++j) {
      const double lo = log_linear_lower_edge(j, lookup_min_exponent);
      const double hi = j + 2 < count ? log_linear_lower_edge(j + 1, lookup_min_exponent)
                                       : std::ldexp(1.0, lookup_max_exponent);
      // The first bound >= lo; one compare against it suffices when no
      // further bound lies below hi.
      auto k = static_cast<std::size_t>(std::lower_bound(l.bounds.begin(), l.bounds.end(), lo) - l.bounds.begin());
      if (k + 1 >= l.bounds.size() || !(l.bounds[k + 1] < hi)) l.lookup[j] = static_cast<std::uint16_t>(k);
    }
    return l;
  }

  static histogram_layout high_resolution_range(int min_exponent, int max_exponent,
                                                std::vector<double> quantiles, std::size_t stripes) {
    histogram_layout l;
    l.stripes = stripes;
    l.high_resolution = true;
    l.min_exponent = min_exponent;
    l.max_exponent = max_exponent;
    l.min_value = std::ldexp(1.0, min_exponent);
    l.max_value = std::ldexp(1.0, max_exponent);
    l.quantiles = std::move(quantiles);
    return l;
  }

  /// Sharded cells per series.
  std::size_t cell_count() const noexcept { return high_resolution ? 1 : bounds.size() + 2; }
  /// Index of the sum cell.
  std::size_t sum_cell() const noexcept { return high_resolution ? 0 : bounds.size() + 1; }

  /// Explicit mode: the bucket for `v`. NaN lands in +Inf, as in Prometheus clients.
  std::size_t bucket_index(double v) const noexcept {
    static constexpr double lookup_min = 0x1p-32, lookup_max = 0x1p32;
    const std::size_t j = log_linear_index(v, lookup_min_exponent, lookup_min, lookup_max, lookup.size());
    const std::uint16_t k = lookup[j];
    if (k != no_lookup) [[likely]] return k + !(v <= bounds_then_inf[k]);
    return scan(v);
  }

  /// High-resolution mode: counts per series, all stripes and the shared one.
  std::size_t high_resolution_cells() const noexcept { return (stripes + 1) * high_resolution_buckets(); }

  /// High-resolution mode: number of buckets.
  std::size_t high_resolution_buckets() const noexcept {
    return log_linear_buckets(min_exponent, max_exponent);
  }

  /// High-resolution mode: the bucket for `v`.
  std::size_t high_resolution_index(double v) const noexcept {
    return log_linear_index(v, min_exponent, min_value, max_value, high_resolution_buckets());
  }

  /// Buckets of a log-linear range: its sub-buckets, one below, one above.
  static constexpr std::size_t log_linear_buckets(int min_exponent, int max_exponent) noexcept {
    return static_cast<std::size_t>(max_exponent - min_exponent) * sub_buckets + 2;
  }

  /// The log-linear bucket of `v` in [min_value = 2^min_exponent, max_value),
  /// from its exponent and top mantissa bits: 0 below the range, `count - 1`
  /// at or above it and for NaN.
  static std::size_t log_linear_index(double v, int min_exponent, double min_value, double max_value,
                                      std::size_t count) noexcept {
    if (v < min_value) return 0;
    if (!(v < max_value)) return count - 1;
    std::uint64_t bits = std::bit_cast<std::uint64_t>(v);
    int exponent = static_cast<int>(bits >> 52) - 1023;
    std::uint64_t sub = (bits >> (52 - sub_bits)) & (sub_buckets - 1);
    return 1 + static_cast<std::size_t>(exponent - min_exponent) * sub_buckets + sub;
  }

  /// The smallest value of log-linear bucket `index` (1 <= index < count - 1).
  static double log_linear_lower_edge(std::size_t index, int min_exponent) noexcept {
    std::size_t i = index - 1;
    int exponent = min_exponent + static_cast<int>(i / sub_buckets);
    double sub = static_cast<double>(i % sub_buckets);
    return std::ldexp(1.0 + sub / static_cast<double>(sub_buckets), exponent);
  }

  /// High-resolution mode: the value a bucket stands for (its midpoint).
  double high_resolution_value(std::size_t index) const noexcept {
    if (index == 0) return 0;
    if (index >= high_resolution_buckets() - 1) return max_value;
    std::size_t i = index - 1;
    int exponent = min_exponent + static_cast<int>(i / sub_buckets);
    double sub = static_cast<double>(i % sub_buckets);
    return std::ldexp(1.0 + (sub + 0.5) / static_cast<double>(sub_buckets), exponent);
  }

  /// Explicit mode without the lookup: a binary search.
  std::size_t scan(double v) const noexcept {
    std::size_t lo = 0, hi = bounds.size();
    while (lo < hi) {
      std::size_t mid = (lo + hi) / 2;
      if (!(v <= bounds[mid])) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
};

}  // namespace detail
OBS_NAMESPACE_END
