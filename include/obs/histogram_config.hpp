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
//   reg.set_histogram_config(obs::matcher::full("http_request_duration_seconds"),
//                            obs::histogram_config::native());
#pragma once

#include <cmath>
#include <limits>
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

/// How a native histogram buckets its values: Prometheus's exponential
/// buckets (https://prometheus.io/docs/specs/native_histograms/).
struct native_histogram_options {
  /// Resolution, -4..8: each bucket is 2^(2^-schema) times the one below,
  /// so at schema 5 a bucket is 2.2% wide and its midpoint within 1.1% of any
  /// value in it. Each step up doubles the buckets (and the memory) per
  /// power of two.
  int schema = 5;
  /// Values with `|v| <=` this count in the zero bucket. Rounded down to a
  /// power of two, which bounds the memory: see max_value.
  double zero_threshold = 1e-9;
  /// Values above this count in the top bucket. Memory per series is
  /// 1 KiB per recording thread (up to 5) for the default range, and
  /// 8 * 2^schema bytes per power of two that has seen a value (256 bytes
  /// at schema 5): a latency histogram from 1 us to 10 s costs about 7 KiB.
  double max_value = 1.7e10;
  /// At most this many populated buckets are exported: a histogram with more
  /// halves its resolution (schema - 1, merging neighbours) until it fits.
  /// Recording keeps the full resolution, so nothing is lost for good.
  std::size_t max_buckets = 160;
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

  /// Native buckets (see native_histogram_options), exported as a native
  /// histogram where the format has them (protobuf) and as classic buckets
  /// at every power of two where it does not. Accepts negative values.
  static histogram_config native(native_histogram_options options = {}) {
    histogram_config c;
    c.set_native(options, "native");
    return c;
  }

  /// These buckets, and native ones too, as Prometheus clients record both:
  /// text formats show the explicit buckets, protobuf both.
  histogram_config with_native(native_histogram_options options = {}) const {
    histogram_config c = *this;
    c.set_native(options, "with_native");
    return c;
  }

  /// Native buckets at schema 6 over [min_value, max_value), exported as a
  /// summary with `quantiles`, each within 0.55% of the exact quantile.
  /// Memory follows what is recorded: 512 bytes per power of two that has
  /// seen a value, per recording thread (up to 5); see native_histogram_options.
  /// Values outside the range count at its edges.
  static histogram_config high_resolution(double min_value = 1e-9, double max_value = 1.7e10,
                                          std::vector<double> quantiles = {0.5, 0.9, 0.99}) {
    for (double q : quantiles)
      if (!(q >= 0 && q <= 1)) throw error(errc::invalid_argument, "quantiles must be in [0, 1]");
    histogram_config c;
    c.set_native({6, min_value, max_value, std::numeric_limits<std::size_t>::max()}, "high_resolution");
    c.summary_ = true;
    c.quantiles_ = std::move(quantiles);
    return c;
  }

  /// Whether values are counted in native buckets (native, with_native, high_resolution).
  bool is_native() const noexcept { return native_; }
  /// Whether the native buckets are exported as a summary (high_resolution).
  bool is_high_resolution() const noexcept { return summary_; }
  const std::vector<double>& bounds() const noexcept { return bounds_; }
  const native_histogram_options& native_options() const noexcept { return options_; }
  /// The native range's octaves: (2^min_octave, 2^max_octave].
  int min_octave() const noexcept { return std::ilogb(options_.zero_threshold); }
  int max_octave() const noexcept { return std::ilogb(options_.max_value) + 1; }
  const std::vector<double>& quantiles() const noexcept { return quantiles_; }

 private:
  histogram_config() = default;

  void set_native(const native_histogram_options& o, const char* what) {
    if (o.schema < -4 || o.schema > 8) throw error(errc::invalid_argument, std::string(what) + ": schema must be in [-4, 8]");
    if (!(o.zero_threshold >= std::numeric_limits<double>::min()) || !(o.max_value > o.zero_threshold) ||
        !std::isfinite(o.max_value))
      throw error(errc::invalid_argument, std::string(what) + " needs 0 < min_value < max_value < +Inf");
    if (o.max_buckets == 0) throw error(errc::invalid_argument, std::string(what) + ": max_buckets must be positive");
    native_ = true;
    options_ = o;
  }

  std::vector<double> bounds_;
  bool native_ = false, summary_ = false;
  native_histogram_options options_;
  std::vector<double> quantiles_;
};

OBS_NAMESPACE_END
