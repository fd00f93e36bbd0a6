// obs::openmetrics: renders a snapshot in the OpenMetrics 1.0 text format.
//
// Use it when the scraper sends `Accept: application/openmetrics-text` (a
// Prometheus server does by default), or when `_created` timestamps and
// units must reach it; obs::prometheus covers older scrapers. The format is
// specified at https://prometheus.io/docs/specs/om/open_metrics_spec/
//
// OpenMetrics names a family apart from its samples, so names are derived
// from the registered one:
// - counter `x_total` (or `x`): metadata for `x`, samples `x_total`;
// - info `x_info` (or `x`): metadata for `x`, samples `x_info`;
// - histogram `x`: `x_bucket{le=...}`, `x_count`, `x_sum` (no `_count` and
//   `_sum` when a bucket bound is negative, as the spec requires);
// - summary `x`: `x{quantile=...}`, `x_count`, `x_sum`.
// Metadata comes in the spec's order: `# TYPE`, then `# UNIT` when the unit
// is set and the family name ends in `_<unit>` (a strict parser rejects any
// other), then `# HELP` when set, escaping `\`, `"` and newline. `le` and
// `quantile` values are canonical numbers (`1.0`, `0.25`, `1e+06`).
// Exemplars follow the value of a counter's `_total` line and of the bucket
// line each belongs to (the first whose bound is at or above its value):
// `x_bucket{le="0.5"} 3 # {trace_id="abc"} 0.25 1700000000.5`, timestamp
// only when known. The body ends with `# EOF`.
#pragma once

#include <string>
#include <string_view>

#include "obs/detail/config.hpp"
#include "obs/snapshot.hpp"

OBS_NAMESPACE_BEGIN
namespace openmetrics {

/// What to include beyond the required samples.
struct options {
  /// Emit `_created` lines (seconds since the epoch) for the counter,
  /// histogram and summary series whose snapshot knows `created`.
  bool created = false;
};

/// The HTTP `Content-Type` of the bodies this namespace renders.
inline constexpr std::string_view content_type =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Appends the OpenMetrics text of `s`, `# EOF` included, to `out`.
///
///   std::string body;
///   obs::openmetrics::render_to(registry.snapshot(), body, {.created = true});
OBS_INLINE void render_to(const snapshot& s, std::string& out, const options& opts = {});

/// Returns the OpenMetrics text of `s`.
///
///   obs::snapshot_builder b;
///   b.add_family("jobs_total", obs::metric_type::counter, "Jobs run.");
///   b.add_series({{"queue", "mail"}}, obs::number::integer(3));
///   std::string text = obs::openmetrics::render(std::move(b).build());
///   // # TYPE jobs counter
///   // # HELP jobs Jobs run.
///   // jobs_total{queue="mail"} 3
///   // # EOF
OBS_INLINE std::string render(const snapshot& s, const options& opts = {});

}  // namespace openmetrics
OBS_NAMESPACE_END

// Header-only, the definitions come with the declarations; with
// OBS_COMPILED_LIB they are in the obs::openmetrics library, and this header
// stays free of fmt and of the exposition writers.
#if OBS_HEADER_ONLY
#include "obs/openmetrics-inl.hpp"
#endif
