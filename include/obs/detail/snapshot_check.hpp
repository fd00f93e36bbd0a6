// detail::check_family: whether a family a collector emitted is one every
// exposition format can carry, and if not, why.
//
// A registry's own families are valid by construction; a collector's are
// checked before they reach a snapshot, with the same rules: names from
// names.hpp, label sets unique per family, and values the type can hold
// (OpenMetrics: counter-like values are never NaN or negative, bucket counts
// rise to `+Inf` = count, info is 1, quantiles lie in [0, 1]).
// https://prometheus.io/docs/specs/om/open_metrics_spec/
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "obs/detail/config.hpp"
#include "obs/names.hpp"
#include "obs/snapshot.hpp"

OBS_NAMESPACE_BEGIN
namespace detail {

inline bool counter_like(double v) noexcept { return v >= 0; }  // false for NaN too

inline std::string check_series(const family_snapshot& f, const series_snapshot& s) {
  for (std::size_t i = 0; i < s.labels.size(); ++i) {
    std::string_view key = s.labels[i].name;
    if (!is_valid_label_name(key)) return "invalid label name '" + std::string(key) + "'";
    if ((f.type == metric_type::histogram || f.type == metric_type::summary) && is_reserved_histogram_label(key))
      return "label '" + std::string(key) + "' is reserved";
    for (std::size_t j = 0; j < i; ++j)
      if (s.labels[j].name == key) return "label '" + std::string(key) + "' given twice";
  }
  switch (f.type) {
    case metric_type::counter:
      if (!counter_like(s.value.as_double())) return "a counter value is NaN or negative";
      return {};
    case metric_type::info:
      if (s.value.as_double() != 1) return "an info value is not 1";
      return {};
    case metric_type::gauge: return {};
    case metric_type::histogram: {
      double bound = -std::numeric_limits<double>::infinity();
      std::uint64_t count = 0;
      for (const bucket_count& b : s.buckets) {
        if (!(b.upper_bound > bound)) return "bucket bounds are not increasing";
        if (b.cumulative_count < count) return "bucket counts are not cumulative";
        bound = b.upper_bound;
        count = b.cumulative_count;
      }
      if (s.buckets.empty() || bound != std::numeric_limits<double>::infinity() || count != s.count)
        return "the +Inf bucket does not hold the count";
      if (s.buckets.front().upper_bound >= 0 && !counter_like(s.sum))
        return "the sum is NaN or negative";  // counter-like without negative buckets
      return {};
    }
    case metric_type::summary: {
      double q = -1;
      for (const quantile_value& v : s.quantiles) {
        if (!(v.quantile >= 0 && v.quantile <= 1) || !(v.quantile > q)) return "quantiles are not ascending in [0, 1]";
        if (v.value < 0) return "a quantile value is negative";
        q = v.quantile;
      }
      if (!counter_like(s.sum)) return "the sum is NaN or negative";
      return {};
    }
  }
  return {};
}

/// Empty if family `f` is valid, else what is wrong with it.
inline std::string check_family(const family_snapshot& f) {
  if (!is_valid_metric_name(f.name)) return "invalid metric name '" + std::string(f.name) + "'";
  if (!f.unit.empty() && !is_valid_unit(f.unit)) return "invalid unit '" + std::string(f.unit) + "'";
  std::vector<std::vector<label_view>> label_sets;
  label_sets.reserve(f.series.size());
  for (const series_snapshot& s : f.series) {
    if (std::string why = check_series(f, s); !why.empty()) return why;
    std::vector<label_view>& set = label_sets.emplace_back(s.labels.begin(), s.labels.end());
    std::sort(set.begin(), set.end(), [](const label_view& a, const label_view& b) { return a.name < b.name; });
  }
  auto less = [](const std::vector<label_view>& a, const std::vector<label_view>& b) {
    return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), [](const label_view& x, const label_view& y) {
      return x.name != y.name ? x.name < y.name : x.value < y.value;
    });
  };
  std::sort(label_sets.begin(), label_sets.end(), less);
  for (std::size_t i = 1; i < label_sets.size(); ++i)
    if (!less(label_sets[i - 1], label_sets[i])) return "two series have the same labels";
  return {};
}

}  // namespace detail
OBS_NAMESPACE_END
