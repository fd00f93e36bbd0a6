// Number formatting shared by the exporters: sample values, `le` and
// `quantile` label values, written into a caller's buffer of at least
// `number_buffer_size` bytes.
//
// Use it from an exporter, never from instrumented code. Every function here
// is independent of the process locale (fmt's `{}` ignores it; no iostreams)
// and allocates nothing.
//
// Three spellings exist because the formats ask for different things:
// - sample values: shortest round-trip text (`0.1`, `1e+22`, `3`), exact
//   integers for u64 counters, and `+Inf`, `-Inf`, `NaN`;
// - Prometheus 0.0.4 `le`/`quantile`: Go's `strconv.FormatFloat(f, 'g', -1,
//   64)`, so the label values match what the Go client exposes (`1`, `0.25`,
//   `1e+06`);
// - OpenMetrics `le`/`quantile`: the same with `.0` on integral values, the
//   "Canonical Numbers" of the OpenMetrics spec (`1.0`, `100000.0`, `1e+06`):
//   https://prometheus.io/docs/specs/om/open_metrics_spec/#considerations-canonical-numbers
#pragma once

#include <cmath>
#include <cstddef>
#include <string_view>

#include <fmt/compile.h>
#include <fmt/format.h>

#include "obs/detail/config.hpp"

OBS_NAMESPACE_BEGIN
namespace detail {

/// Room for any double or u64 these functions produce; the longest is a
/// 17-digit negative mantissa with a three-digit exponent (24 characters).
inline constexpr std::size_t number_buffer_size = 32;

/// Writes `+Inf`, `-Inf` or `NaN` for a non-finite `v` and returns the end,
/// or returns nullptr when `v` is finite.
inline char* format_non_finite(double v, char* buf) noexcept {
  std::string_view text;
  if (std::isnan(v)) text = "NaN";
  else if (std::isinf(v)) text = v > 0 ? "+Inf" : "-Inf";
  else return nullptr;
  for (char c : text) *buf++ = c;
  return buf;
}

/// Writes the shortest text that reads back as `v` and returns the end.
inline char* format_double(double v, char* buf) {
  if (char* end = format_non_finite(v, buf)) return end;
  return fmt::format_to(buf, FMT_COMPILE("{}"), v);
}

/// Writes `v` as Go's `FormatFloat(v, 'g', -1, 64)` does and returns the end.
///
/// Go and fmt agree on the shortest digits and on the exponent form
/// (`1e+22`, `1e-05`); they differ only in where exponents start: Go at a
/// decimal exponent of 6, fmt at 16. So fmt's fixed output in [1e6, 1e16) is
/// rewritten as mantissa and exponent.
inline char* format_go_float(double v, char* buf) {
  char* end = format_double(v, buf);
  if (!std::isfinite(v) || std::fabs(v) < 1e6) return end;
  char* first = buf + (*buf == '-' ? 1 : 0);
  for (char* p = first; p != end; ++p)
    if (*p == 'e') return end;
  // Fixed text of at least seven integer digits: "1234567" or "1234567.5".
  char digits[number_buffer_size];
  std::size_t n = 0;
  int exponent = -1;
  bool before_point = true;
  for (char* p = first; p != end; ++p) {
    if (*p == '.') {
      before_point = false;
      continue;
    }
    if (before_point) ++exponent;
    digits[n++] = *p;
  }
  while (n > 1 && digits[n - 1] == '0') --n;
  char* out = first;
  *out++ = digits[0];
  if (n > 1) {
    *out++ = '.';
    for (std::size_t i = 1; i < n; ++i) *out++ = digits[i];
  }
  return fmt::format_to(out, FMT_COMPILE("e+{:02}"), exponent);
}

/// Writes an OpenMetrics canonical number for `le`/`quantile` and returns the
/// end: Go's rendering with `.0` added when it would read as an integer.
inline char* format_canonical_float(double v, char* buf) {
  char* end = format_go_float(v, buf);
  if (!std::isfinite(v)) return end;
  for (char* p = buf; p != end; ++p)
    if (*p == '.' || *p == 'e') return end;
  *end++ = '.';
  *end++ = '0';
  return end;
}

}  // namespace detail
OBS_NAMESPACE_END
