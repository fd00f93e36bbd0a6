// Histogram bucket bounds: Prometheus's defaults and the linear and
// exponential helpers every Prometheus client offers.
//
//   reg.set_buckets_for_metric(obs::matcher::suffix("_seconds"), obs::exponential_buckets(0.001, 2, 12));
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "obs/detail/config.hpp"
#include "obs/error.hpp"

OBS_NAMESPACE_BEGIN

/// Prometheus's default bounds, tuned for request latencies in seconds:
/// .005 .01 .025 .05 .1 .25 .5 1 2.5 5 10.
inline std::vector<double> default_buckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

/// `count` bounds: start, start + width, ... Throws obs::error unless
/// count >= 1 and width > 0.
inline std::vector<double> linear_buckets(double start, double width, std::size_t count) {
  if (count < 1 || !(width > 0) || !std::isfinite(start) || !std::isfinite(width))
    throw error(errc::invalid_buckets, "linear_buckets needs count >= 1 and a finite width > 0");
  std::vector<double> bounds(count);
  for (std::size_t i = 0; i < count; ++i) bounds[i] = start + width * static_cast<double>(i);
  return bounds;
}

/// `count` bounds: start, start * factor, ... Throws obs::error unless
/// count >= 1, start > 0 and factor > 1.
inline std::vector<double> exponential_buckets(double start, double factor, std::size_t count) {
  if (count < 1 || !(start > 0) || !(factor > 1) || !std::isfinite(start) || !std::isfinite(factor))
    throw error(errc::invalid_buckets,
                "exponential_buckets needs count >= 1, start > 0 and factor > 1");
  std::vector<double> bounds(count);
  double bound = start;
  for (std::size_t i = 0; i < count; ++i, bound *= factor) bounds[i] = bound;
  return bounds;
}

/// Throws obs::error unless `bounds` are finite and strictly increasing (the
/// +Inf bucket is implicit) and at most 256 of them.
inline void validate_buckets(const std::vector<double>& bounds) {
  if (bounds.size() > 256)
    throw error(errc::invalid_buckets, "a histogram takes at most 256 bucket bounds");
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i]))
      throw error(errc::invalid_buckets, "bucket bounds must be finite (+Inf is implicit)");
    if (i > 0 && !(bounds[i - 1] < bounds[i]))
      throw error(errc::invalid_buckets, "bucket bounds must be strictly increasing");
  }
}

OBS_NAMESPACE_END
