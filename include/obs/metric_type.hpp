// obs::metric_type: the kinds of metric family the exposition formats know,
// and their names there.
#pragma once

#include <cstdint>
#include <string_view>

#include "obs/detail/config.hpp"

OBS_NAMESPACE_BEGIN

/// The kind of a metric family, as the exposition formats name it.
enum class metric_type : std::uint8_t {
  counter,    ///< monotonic total; name conventionally ends in `_total`
  gauge,      ///< a value that goes up and down
  histogram,  ///< cumulative buckets with `le` bounds, plus sum and count
  summary,    ///< quantiles, plus sum and count
  info,       ///< constant 1 carrying labels (`*_info`, e.g. `*_build_info`)
};

/// The exposition name of a metric type: "counter", "gauge", ...
constexpr std::string_view to_string(metric_type t) noexcept {
  switch (t) {
    case metric_type::counter: return "counter";
    case metric_type::gauge: return "gauge";
    case metric_type::histogram: return "histogram";
    case metric_type::summary: return "summary";
    case metric_type::info: return "info";
  }
  return "unknown";
}

OBS_NAMESPACE_END
