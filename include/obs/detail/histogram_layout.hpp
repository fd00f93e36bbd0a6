// detail::histogram_layout: a histogram family's bucketing, which owns the
// tables its histogram_buckets (histogram_buckets.hpp, what recording reads)
// points into, and knows what snapshots need besides: the bounds, the
// quantiles exported and the value each high-resolution bucket stands for.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <utility>
#include <vector>

#include "obs/detail/config.hpp"
#include "obs/detail/histogram_buckets.hpp"

OBS_NAMESPACE_BEGIN
namespace detail {

struct histogram_layout : histogram_buckets {
  std::vector<double> bounds;  ///< explicit mode
  std::vector<double> quantiles;  ///< high-resolution mode: the quantiles exported

  histogram_layout() = default;
  // The base points into these vectors: a copy points into its own.
  histogram_layout(const histogram_layout& other)
      : histogram_buckets(other), bounds(other.bounds), quantiles(other.quantiles),
        bounds_then_inf_(other.bounds_then_inf_), lookup_(other.lookup_) {
    bind();
  }
  histogram_layout& operator=(const histogram_layout& other) {
    histogram_layout copy(other);
    return *this = std::move(copy);
  }
  histogram_layout(histogram_layout&& other) noexcept
      : histogram_buckets(other), bounds(std::move(other.bounds)), quantiles(std::move(other.quantiles)),
        bounds_then_inf_(std::move(other.bounds_then_inf_)), lookup_(std::move(other.lookup_)) {
    bind();
    other.bind();
  }
  histogram_layout& operator=(histogram_layout&& other) noexcept {
    static_cast<histogram_buckets&>(*this) = other;
    bounds = std::move(other.bounds);
    quantiles = std::move(other.quantiles);
    bounds_then_inf_ = std::move(other.bounds_then_inf_);
    lookup_ = std::move(other.lookup_);
    bind();
    other.bind();
    return *this;
  }
  ~histogram_layout() = default;

  static histogram_layout explicit_buckets(std::vector<double> bounds) {
    histogram_layout l;
    l.bounds = std::move(bounds);
    if (!l.bounds.empty() && l.bounds.front() < 0) l.min_observation = -std::numeric_limits<double>::infinity();
    l.explicit_min_observation = l.min_observation;
    l.bounds_then_inf_ = l.bounds;
    l.bounds_then_inf_.push_back(std::numeric_limits<double>::infinity());
    const std::size_t count = log_linear_buckets(lookup_min_exponent, lookup_max_exponent);
    l.lookup_.assign(count, no_lookup);
    for (std::size_t j = 1; j + 1 < count; ++j) {
      const double lo = log_linear_lower_edge(j, lookup_min_exponent);
      const double hi = j + 2 < count ? log_linear_lower_edge(j + 1, lookup_min_exponent)
                                       : std::ldexp(1.0, lookup_max_exponent);
      // The first bound >= lo; one compare against it suffices when no
      // further bound lies below hi.
      auto k = static_cast<std::size_t>(std::lower_bound(l.bounds.begin(), l.bounds.end(), lo) - l.bounds.begin());
      if (k + 1 >= l.bounds.size() || !(l.bounds[k + 1] < hi)) l.lookup_[j] = static_cast<std::uint16_t>(k);
    }
    l.bind();
    return l;
  }

  static histogram_layout high_resolution_range(int min_exponent, int max_exponent,
                                                std::vector<double> quantiles, std::size_t stripes) {
    histogram_layout l;
    l.stripes = stripes;
    l.high_resolution = true;
    l.explicit_min_observation = std::numeric_limits<double>::quiet_NaN();
    l.min_exponent = min_exponent;
    l.max_exponent = max_exponent;
    l.min_value = std::ldexp(1.0, min_exponent);
    l.max_value = std::ldexp(1.0, max_exponent);
    l.quantiles = std::move(quantiles);
    l.bind();
    return l;
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

  /// High-resolution mode: quantile `q` of the bucket `counts` (all stripes
  /// summed; `total` of them), by nearest rank: the smallest bucket value
  /// with at least q * total observations at or below it. NaN when empty.
  double high_resolution_quantile(std::span<const std::uint64_t> counts, std::uint64_t total, double q) const noexcept {
    if (total == 0) return std::numeric_limits<double>::quiet_NaN();
    auto rank = std::max<std::uint64_t>(static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(total))), 1);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts.size(); ++i) {
      seen += counts[i];
      if (seen >= rank) return high_resolution_value(i);
    }
    return std::numeric_limits<double>::quiet_NaN();
  }

 private:
  /// Points the recording view at this layout's tables.
  void bind() noexcept {
    bound_data = bounds.data();
    bound_count = bounds.size();
    bounds_with_inf = bounds_then_inf_.data();
    lookup_table = lookup_.data();
  }

  std::vector<double> bounds_then_inf_;
  std::vector<std::uint16_t> lookup_;
};

}  // namespace detail
OBS_NAMESPACE_END
