// detail::histogram_layout: a histogram family's bucketing, which owns the
// tables its histogram_buckets (histogram_buckets.hpp, what recording reads)
// points into, and knows what snapshots need besides: the bounds, how native
// buckets are exported, and the quantiles a high-resolution histogram
// reports (native_counts.hpp reads its counts).
#pragma once

#include <algorithm>
#include <bit>
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
  // Exponential mode: exported as a summary of these quantiles, or as a
  // native histogram at `export_schema`, coarsened until at most
  // `max_buckets` buckets are populated.
  bool summary = false;
  std::vector<double> quantiles;
  int export_schema = 0;
  std::size_t max_buckets = 0;

  histogram_layout() = default;
  // The base points into these vectors: a copy points into its own.
  histogram_layout(const histogram_layout& other)
      : histogram_buckets(other), bounds(other.bounds), summary(other.summary), quantiles(other.quantiles),
        export_schema(other.export_schema), max_buckets(other.max_buckets),
        bounds_then_inf_(other.bounds_then_inf_), lookup_(other.lookup_), sub_start_(other.sub_start_),
        sub_bound_mantissas_(other.sub_bound_mantissas_) {
    bind();
  }
  histogram_layout& operator=(const histogram_layout& other) {
    histogram_layout copy(other);
    return *this = std::move(copy);
  }
  histogram_layout(histogram_layout&& other) noexcept
      : histogram_buckets(other), bounds(std::move(other.bounds)), summary(other.summary),
        quantiles(std::move(other.quantiles)), export_schema(other.export_schema), max_buckets(other.max_buckets),
        bounds_then_inf_(std::move(other.bounds_then_inf_)), lookup_(std::move(other.lookup_)),
        sub_start_(std::move(other.sub_start_)), sub_bound_mantissas_(std::move(other.sub_bound_mantissas_)) {
    bind();
    other.bind();
  }
  histogram_layout& operator=(histogram_layout&& other) noexcept {
    static_cast<histogram_buckets&>(*this) = other;
    bounds = std::move(other.bounds);
    summary = other.summary;
    quantiles = std::move(other.quantiles);
    export_schema = other.export_schema;
    max_buckets = other.max_buckets;
    bounds_then_inf_ = std::move(other.bounds_then_inf_);
    lookup_ = std::move(other.lookup_);
    sub_start_ = std::move(other.sub_start_);
    sub_bound_mantissas_ = std::move(other.sub_bound_mantissas_);
    bind();
    other.bind();
    return *this;
  }
  ~histogram_layout() = default;

  static histogram_layout explicit_buckets(std::vector<double> bounds) {
    histogram_layout l;
    l.bounds = std::move(bounds);
    if (!l.bounds.empty() && l.bounds.front() < 0) l.min_observation = -std::numeric_limits<double>::infinity();
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
      if (k + 1 >= l.bounds.size() || !(l.bounds[k + 1] < hi))
        l.lookup_[j] = static_cast<std::uint16_t>(k);
      else
        l.lookup_limit = l.inline_lookup_limit = 0;  // two bounds in one range: no entry is trusted
    }
    l.bind();
    return l;
  }

  /// Adds native buckets at `schema` (-4..8) over octaves [min_octave,
  /// max_octave) to this layout, counted in `stripes` exclusive stripes and
  /// a shared one; explicit bounds, if any, are kept too.
  histogram_layout&& with_exponential(int schema, int min_octave, int max_octave, std::size_t stripes) && {
    exponential = true;
    classic = !bounds.empty();
    if (!classic) min_observation = -std::numeric_limits<double>::infinity();
    inline_lookup_limit = 0;
    export_schema = schema;
    scheme.schema = std::max(schema, 0);
    scheme.octave_buckets = std::uint32_t{1} << scheme.schema;
    scheme.min_octave = min_octave;
    scheme.max_octave = max_octave;
    scheme.zero_threshold = std::ldexp(1.0, min_octave);
    scheme.zero_threshold_bits = std::bit_cast<std::uint64_t>(scheme.zero_threshold);
    scheme.octave_count = static_cast<std::size_t>(max_octave - min_octave);
    scheme.min_exponent = static_cast<std::uint64_t>(1023 + min_octave);
    scheme.stripes = stripes;
    // Bucket b of an octave ends at 2^((b + 1) / 2^schema): as the mantissa
    // bits of that double, and 2^52 for the last bucket, whose end is the
    // next power of two. The mantissa of the double just below a value
    // (see locate) lies in bucket b when it is below the end of b and at
    // or above the end of b - 1; sub_start_ holds that b for each cell's start.
    constexpr std::uint64_t mantissa_mask = (std::uint64_t{1} << 52) - 1;
    const double per_octave = scheme.octave_buckets;
    sub_bound_mantissas_.resize(scheme.octave_buckets);
    for (std::size_t b = 0; b < scheme.octave_buckets; ++b)
      sub_bound_mantissas_[b] =
          b + 1 == scheme.octave_buckets
              ? std::uint64_t{1} << 52
              : std::bit_cast<std::uint64_t>(std::exp2(static_cast<double>(b + 1) / per_octave)) & mantissa_mask;
    sub_start_.resize(1024);
    for (std::size_t cell = 0; cell < 1024; ++cell) {
      const std::uint64_t start = std::uint64_t{cell} << 42;
      std::size_t b = 0;
      while (sub_bound_mantissas_[b] <= start) ++b;
      sub_start_[cell] = static_cast<std::uint16_t>(b);
    }
    bind();
    return std::move(*this);
  }

  /// A high-resolution histogram: native buckets exported as a summary.
  static histogram_layout high_resolution(int schema, int min_octave, int max_octave, std::vector<double> quantiles,
                                          std::size_t stripes) {
    histogram_layout l = explicit_buckets({}).with_exponential(schema, min_octave, max_octave, stripes);
    l.summary = true;
    l.min_observation = 0;
    l.quantiles = std::move(quantiles);
    return l;
  }

  /// The smallest value of log-linear bucket `index` (1 <= index < count - 1).
  static double log_linear_lower_edge(std::size_t index, int min_exponent) noexcept {
    std::size_t i = index - 1;
    int exponent = min_exponent + static_cast<int>(i / sub_buckets);
    double sub = static_cast<double>(i % sub_buckets);
    return std::ldexp(1.0 + sub / static_cast<double>(sub_buckets), exponent);
  }

 private:
  /// Points the recording view at this layout's tables.
  void bind() noexcept {
    bound_data = bounds.data();
    bound_count = bounds.size();
    bounds_with_inf = bounds_then_inf_.data();
    lookup_table = lookup_.data();
    scheme.sub_start = sub_start_.data();
    scheme.sub_bound_mantissas = sub_bound_mantissas_.data();
  }

  std::vector<double> bounds_then_inf_;
  std::vector<std::uint16_t> lookup_;
  std::vector<std::uint16_t> sub_start_;
  std::vector<std::uint64_t> sub_bound_mantissas_;
};

}  // namespace detail
OBS_NAMESPACE_END
