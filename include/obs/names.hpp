// Validation of metric names, label names and units, usable at compile time.
//
// The one table of naming rules: the facade macros check literal names with
// these in a constant expression, so a typo in a metric name is a compile
// error, and run-time registration checks the same rules and throws
// obs::error. The rules are Prometheus's:
// https://prometheus.io/docs/concepts/data_model/#metric-names-and-labels
#pragma once

#include <string_view>

#include "obs/detail/config.hpp"

OBS_NAMESPACE_BEGIN

/// True if `name` is a valid metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
constexpr bool is_valid_metric_name(std::string_view name) noexcept {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    bool digit = c >= '0' && c <= '9';
    if (!(alpha || (digit && i > 0))) return false;
  }
  return true;
}

/// True if `name` is a valid label name: `[a-zA-Z_][a-zA-Z0-9_]*`, not
/// starting with `__` (reserved for Prometheus internals).
constexpr bool is_valid_label_name(std::string_view name) noexcept {
  if (name.empty() || name.starts_with("__")) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    bool digit = c >= '0' && c <= '9';
    if (!(alpha || (digit && i > 0))) return false;
  }
  return true;
}

/// True if `name` is a label a histogram reserves for its own samples: `le`
/// (bucket bounds) and `quantile` (a high-resolution histogram exports as a
/// summary). Other metric types reserve none.
constexpr bool is_reserved_histogram_label(std::string_view name) noexcept {
  return name == "le" || name == "quantile";
}

/// True if `unit` is a valid unit: `[a-z0-9_]+` (e.g. "seconds", "bytes").
constexpr bool is_valid_unit(std::string_view unit) noexcept {
  if (unit.empty()) return false;
  for (char c : unit)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

OBS_NAMESPACE_END
