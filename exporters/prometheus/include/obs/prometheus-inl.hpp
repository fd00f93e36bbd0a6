// The definitions of what obs/prometheus.hpp declares: the 0.0.4 text
// writer, built on the shared exposition writers and fmt.
//
// Header-only, obs/prometheus.hpp includes this file; with OBS_COMPILED_LIB,
// exporters/prometheus/src/prometheus.cpp compiles it once into
// the obs::prometheus library, and its users never include it.
#pragma once

#include <string>
#include <string_view>

#include "obs/detail/config.hpp"
#include "obs/detail/exposition_text.hpp"
#include "obs/detail/exposition_writer.hpp"
#include "obs/prometheus.hpp"
#include "obs/snapshot.hpp"

OBS_NAMESPACE_BEGIN
namespace detail {

/// The `# TYPE` word for `t`: 0.0.4 has no info type, so info is `gauge`.
inline std::string_view prometheus_type_name(metric_type t) noexcept {
  return t == metric_type::info ? "gauge" : to_string(t);
}

/// Writes the sample lines of series `s` of family `f`.
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

OBS_INLINE void render_to(const snapshot& s, std::string& out) {
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

OBS_INLINE std::string render(const snapshot& s) {
  std::string out;
  render_to(s, out);
  return out;
}

}  // namespace prometheus
OBS_NAMESPACE_END
