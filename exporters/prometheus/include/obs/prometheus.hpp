// obs::prometheus: renders a snapshot in the Prometheus text exposition
// format, version 0.0.4, the format every Prometheus server scrapes.
//
// Use it to serve `/metrics` to Prometheus, or anything else that reads the
// classic text format; prefer obs::openmetrics when the scraper asks for
// `application/openmetrics-text`. The format is specified at
// https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
//
// What is written, per family in snapshot order:
// - `# HELP name text` when the help is non-empty (`\` and newline escaped),
//   then `# TYPE name type`; 0.0.4 has no UNIT line;
// - counters, gauges: `name{labels} value`; the name is the registered one;
// - info families, which 0.0.4 lacks, are typed `gauge`;
// - histograms: cumulative `name_bucket{labels,le="..."}` lines ending in
//   `le="+Inf"`, then `name_sum`, `name_count`;
// - summaries: `name{labels,quantile="..."}` lines, `name_sum`, `name_count`.
// `le` and `quantile` values are spelled as the Go client spells them (`1`,
// `0.25`, `1e+06`), so series keep their identity across client languages.
#pragma once

#include <string>
#include <string_view>

#include "obs/detail/config.hpp"
#include "obs/snapshot.hpp"

OBS_NAMESPACE_BEGIN
namespace prometheus {

/// The HTTP `Content-Type` of the bodies this namespace renders.
inline constexpr std::string_view content_type = "text/plain; version=0.0.4; charset=utf-8";

/// Appends the 0.0.4 text of `s` to `out`.
///
/// Reuse one string across scrapes to render without allocating:
///
///   std::string body;
///   body.clear();
///   obs::prometheus::render_to(registry.snapshot(), body);
OBS_INLINE void render_to(const snapshot& s, std::string& out);

/// Returns the 0.0.4 text of `s`.
///
///   obs::snapshot_builder b;
///   b.add_family("jobs_total", obs::metric_type::counter, "Jobs run.");
///   b.add_series({{"queue", "mail"}}, obs::number::integer(3));
///   std::string text = obs::prometheus::render(std::move(b).build());
///   // # HELP jobs_total Jobs run.
///   // # TYPE jobs_total counter
///   // jobs_total{queue="mail"} 3
OBS_INLINE std::string render(const snapshot& s);

}  // namespace prometheus
OBS_NAMESPACE_END

// Header-only, the definitions come with the declarations; with
// OBS_COMPILED_LIB they are in the obs::prometheus library, and this header
// stays free of fmt and of the exposition writers.
#if OBS_HEADER_ONLY
#include "obs/prometheus-inl.hpp"
#endif
