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
#include <span>
#include <string>
#include <vector>

#include "obs/detail/config.hpp"
#include "obs/detail/utf8.hpp"
#include "obs/names.hpp"
#include "obs/snapshot.hpp"

OBS_NAMESPACE_BEGIN
namespace detail {

inline bool counter_like(double v) noexcept { return v >= 0; }  // false for NaN too

/// OpenMetrics: an exemplar's label names and values together hold at most
/// this many code points.
inline constexpr std::size_t max_exemplar_label_code_points = 128;

inline std::string check_exemplars(const family_snapshot& f, const series_snapshot& s) {
  if (s.exemplars.empty()) return {};
  if (f.type != metric_type::counter && f.type != metric_type::histogram)
    return "only counters and histograms carry exemplars";
  if (f.type == metric_type::counter && s.exemplars.size() > 1) return "a counter carries more than one exemplar";
  double previous = -std::numeric_limits<double>::infinity();
  for (const exemplar_snapshot& e : s.exemplars) {
    std::size_t length = 0;
    for (const label_view& l : e.labels) {
      if (!is_valid_label_name(l.name)) return "invalid exemplar label name '" + std::string(l.name) + "'";
      length += utf8_code_points(l.name) + utf8_code_points(l.value);
    }
    if (length > max_exemplar_label_code_points) return "an exemplar's labels are longer than 128 code points";
    if (f.type == metric_type::histogram && !(e.value >= previous)) return "exemplars are not ascending by value";
    previous = e.value;
  }
  return {};
}

inline std::uint64_t sum_counts(std::span<const std::uint64_t> counts) noexcept {
  std::uint64_t n = 0;
  for (std::uint64_t c : counts) n += c;
  return n;
}

inline std::string check_native(const series_snapshot& s) {
  const native_histogram_snapshot& n = *s.native;
  if (n.schema < -4 || n.schema > 8) return "a native histogram's schema is outside [-4, 8]";
  if (!(n.zero_threshold >= 0) || !std::isfinite(n.zero_threshold)) return "a native histogram's zero threshold is invalid";
  auto spans_cover = [](std::span<const bucket_span> spans, std::size_t counts) {
    std::size_t length = 0;
    for (const bucket_span& b : spans) length += b.length;
    return length == counts;
  };
  if (!spans_cover(n.positive_spans, n.positive_counts.size()) || !spans_cover(n.negative_spans, n.negative_counts.size()))
    return "a native histogram's spans do not match its counts";
  const std::uint64_t total = n.zero_count + sum_counts(n.positive_counts) + sum_counts(n.negative_counts);
  // Only NaN observations lie in no bucket, and they make the sum NaN.
  if (total > s.count || (total != s.count && !std::isnan(s.sum)))
    return "a native histogram's buckets do not hold its count";
  return {};
}

inline std::string check_series(const family_snapshot& f, const series_snapshot& s) {
  if (std::string why = check_exemplars(f, s); !why.empty()) return why;
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
      if (s.native) {
        if (std::string why = check_native(s); !why.empty()) return why;
        if (!s.native->negative_counts.empty()) return {};  // the sum may fall
      }
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
