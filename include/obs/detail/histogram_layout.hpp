// detail::histogram_layout: how a histogram family maps a value to a bucket.
//
// Explicit mode: finite, strictly increasing upper bounds; bucket i counts
// values `<= bounds[i]`, one more bucket counts the rest (+Inf). Cells are the
// buckets, then the sum.
//
// High-resolution mode: log-linear buckets, 2^sub_bits per power of two, so a
// bucket is at most 1/64 of its lower edge wide and reporting its midpoint is
// within 1/128 (0.78%) of any value in it. Bucket 0 holds values below
// `min_value` (zero and negatives too), the last bucket values at or above
// `max_value` (and NaN). Counts live in a shared array; the sum in one
// sharded cell.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
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
  // High-resolution mode: the resolved range [2^min_exponent, 2^max_exponent)
  // and the quantiles exported.
  int min_exponent = 0, max_exponent = 0;
  double min_value = 0, max_value = 0;
  std::vector<double> quantiles;

  static histogram_layout explicit_buckets(std::vector<double> bounds) {
    histogram_layout l;
    l.bounds = std::move(bounds);
    return l;
  }

  static histogram_layout high_resolution_range(int min_exponent, int max_exponent,
                                                std::vector<double> quantiles) {
    histogram_layout l;
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
    const std::size_t n = bounds.size();
    if (n <= 16) {
      std::size_t i = 0;
      while (i < n && !(v <= bounds[i])) ++i;
      return i;
    }
    std::size_t lo = 0, hi = n;
    while (lo < hi) {
      std::size_t mid = (lo + hi) / 2;
      if (!(v <= bounds[mid])) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /// High-resolution mode: number of buckets.
  std::size_t high_resolution_buckets() const noexcept {
    return static_cast<std::size_t>(max_exponent - min_exponent) * sub_buckets + 2;
  }

  /// High-resolution mode: the bucket for `v`, from its exponent and top
  /// mantissa bits.
  std::size_t high_resolution_index(double v) const noexcept {
    if (v < min_value) return 0;
    if (!(v < max_value)) return high_resolution_buckets() - 1;
    std::uint64_t bits = std::bit_cast<std::uint64_t>(v);
    int exponent = static_cast<int>(bits >> 52) - 1023;
    std::uint64_t sub = (bits >> (52 - sub_bits)) & (sub_buckets - 1);
    return 1 + static_cast<std::size_t>(exponent - min_exponent) * sub_buckets + sub;
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
};

}  // namespace detail
OBS_NAMESPACE_END
