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
#include "obs/detail/exposition_text.hpp"
#include "obs/detail/exposition_writer.hpp"
#include "obs/snapshot.hpp"

OBS_NAMESPACE_BEGIN
namespace detail {

inline std::string_view prometheus_type_name(metric_type t) noexcept {
  return t == metric_type::info ? "gauge" : to_string(t);
}

inline void put_prometheus_series(output_writer& out, const family_snapshot& f,
                                  const series_snapshot& s) {
  label_set_writer labels(s.labels);
  switch (f.type) {
    case metric_type::counter:
    case metric_type::gauge:
    case metric_type::info:
      put_sample_start(out, f.name, {}, labels);
      out.put_number(s.value);
      out.put('\n');
      return;
    case metric_type::histogram:
      for (const bucket_count& b : s.buckets) {
        put_bound_sample_start(out, f.name, "_bucket", labels, "le", b.upper_bound,
                               &output_writer::put_go_float);
        out.put_uint(b.cumulative_count);
        out.put('\n');
      }
      break;
    case metric_type::summary:
      for (const quantile_value& q : s.quantiles) {
        put_bound_sample_start(out, f.name, {}, labels, "quantile", q.quantile,
                               &output_writer::put_go_float);
        out.put_double(q.value);
        out.put('\n');
      }
      break;
  }
  put_sample_start(out, f.name, "_sum", labels);
  out.put_double(s.sum);
  out.put('\n');
  put_sample_start(out, f.name, "_count", labels);
  out.put_uint(s.count);
  out.put('\n');
}

}  // namespace detail

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
inline void render_to(const snapshot& s, std::string& out) {
  obs::detail::output_writer w(out, obs::detail::estimate_text_size(s));
  for (const family_snapshot& f : s.families()) {
    if (!f.help.empty()) {
      w.put("# HELP ");
      w.put(f.name);
      w.put(' ');
      obs::detail::put_escaped(w, f.help, false);
      w.put('\n');
    }
    w.put("# TYPE ");
    w.put(f.name);
    w.put(' ');
    w.put(obs::detail::prometheus_type_name(f.type));
    w.put('\n');
    for (const series_snapshot& series : f.series) obs::detail::put_prometheus_series(w, f, series);
  }
}

/// Returns the 0.0.4 text of `s`.
///
///   obs::snapshot_builder b;
///   b.add_family("jobs_total", obs::metric_type::counter, "Jobs run.");
///   b.add_series({{"queue", "mail"}}, obs::number::integer(3));
///   std::string text = obs::prometheus::render(std::move(b).build());
///   // # HELP jobs_total Jobs run.
///   // # TYPE jobs_total counter
///   // jobs_total{queue="mail"} 3
inline std::string render(const snapshot& s) {
  std::string out;
  render_to(s, out);
  return out;
}

}  // namespace prometheus
OBS_NAMESPACE_END
