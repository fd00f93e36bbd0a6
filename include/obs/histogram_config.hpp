// obs::histogram_config and obs::matcher: how the histograms of a metric name
// (or of every name with a prefix or suffix) bucket their values.
//
// Like the Rust Prometheus exporter's `set_buckets_for_metric`, configuration
// is by name, so call sites stay `record(v)`:
//
//   reg.set_buckets_for_metric(obs::matcher::full("db_pool_acquire_duration_seconds"),
//                              {0.001, 0.01, 0.1, 1, 5});
//   reg.set_histogram_config(obs::matcher::prefix("pgcache_query_"),
//                            obs::histogram_config::high_resolution());
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "obs/buckets.hpp"
#include "obs/detail/config.hpp"

OBS_NAMESPACE_BEGIN

/// Selects metric names: one exact name, or all names with a prefix or suffix.
/// A full match beats any prefix, a prefix beats any suffix, and among
/// prefixes (or suffixes) the longest wins.
class matcher {
 public:
  enum class kind : unsigned char { full, prefix, suffix };

  static matcher full(std::string_view name) { return {kind::full, name}; }
  static matcher prefix(std::string_view text) { return {kind::prefix, text}; }
  static matcher suffix(std::string_view text) { return {kind::suffix, text}; }

  bool matches(std::string_view name) const noexcept {
    switch (kind_) {
      case kind::full: return name == text_;
      case kind::prefix: return name.starts_with(text_);
      case kind::suffix: return name.ends_with(text_);
    }
    return false;
  }

  /// Higher is more specific; see the class comment.
  std::size_t specificity() const noexcept {
    std::size_t rank = kind_ == kind::full ? 2 : kind_ == kind::prefix ? 1 : 0;
    return (rank << 32) | text_.size();
  }

 private:
  matcher(kind k, std::string_view text) : kind_(k), text_(text) {}
  kind kind_;
  std::string text_;
};

/// How a histogram buckets its values.
class histogram_config {
 public:
  /// Prometheus-style explicit bounds (+Inf implicit). Exported as a histogram.
  static histogram_config explicit_buckets(std::vector<double> bounds) {
    validate_buckets(bounds);
    histogram_config c;
    c.bounds_ = std::move(bounds);
    return c;
  }

  /// Log-linear buckets over [min_value, max_value) answering quantiles within
  /// 1% relative error, exported as a summary with `quantiles`. Memory is
  /// fixed per series and independent of traffic: 512 bytes per power of two
  /// in the range, for each of up to 5 stripes of counts (the default range,
  /// about 1 ns to 500 years in seconds, costs 160 KiB). Narrow the range to
  /// save memory; values outside it count at its edges.
  static histogram_config high_resolution(double min_value = 1e-9, double max_value = 1.7e10,
                                          std::vector<double> quantiles = {0.5, 0.9, 0.99}) {
    if (!(min_value > 0) || !(max_value > min_value) || !std::isfinite(max_value))
      throw error(errc::invalid_argument, "high_resolution needs 0 < min_value < max_value < +Inf");
    for (double q : quantiles)
      if (!(q >= 0 && q <= 1)) throw error(errc::invalid_argument, "quantiles must be in [0, 1]");
    histogram_config c;
    c.high_resolution_ = true;
    c.min_exponent_ = std::ilogb(min_value);
    c.max_exponent_ = std::ilogb(max_value) + 1;
    c.quantiles_ = std::move(quantiles);
    return c;
  }

  bool is_high_resolution() const noexcept { return high_resolution_; }
  const std::vector<double>& bounds() const noexcept { return bounds_; }
  int min_exponent() const noexcept { return min_exponent_; }
  int max_exponent() const noexcept { return max_exponent_; }
  const std::vector<double>& quantiles() const noexcept { return quantiles_; }

 private:
  histogram_config() = default;
  bool high_resolution_ = false;
  std::vector<double> bounds_;
  int min_exponent_ = 0, max_exponent_ = 0;
  std::vector<double> quantiles_;
};

OBS_NAMESPACE_END
