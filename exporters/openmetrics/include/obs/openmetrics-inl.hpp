// The definitions of what obs/openmetrics.hpp declares: the OpenMetrics
// text writer, built on the shared exposition writers and fmt.
//
// Header-only, obs/openmetrics.hpp includes this file; with OBS_COMPILED_LIB,
// exporters/openmetrics/src/openmetrics.cpp compiles it once into
// the obs::openmetrics library, and its users never include it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "obs/detail/config.hpp"
#include "obs/detail/exposition_text.hpp"
#include "obs/detail/exposition_writer.hpp"
#include "obs/openmetrics.hpp"
#include "obs/snapshot.hpp"

OBS_NAMESPACE_BEGIN
namespace detail {

/// `name` without `suffix`, when it ends in it.
constexpr std::string_view strip_suffix(std::string_view name, std::string_view suffix) noexcept {
  return name.size() > suffix.size() && name.ends_with(suffix)
             ? name.substr(0, name.size() - suffix.size())
             : name;
}

/// The MetricFamily name OpenMetrics metadata lines use.
constexpr std::string_view openmetrics_family_name(const family_snapshot& f) noexcept {
  if (f.type == metric_type::counter) return strip_suffix(f.name, "_total");
  if (f.type == metric_type::info) return strip_suffix(f.name, "_info");
  return f.name;
}

/// Whether a `# UNIT` line may be written: the spec wants the unit as the
/// name's suffix, and forbids units on info families.
constexpr bool openmetrics_has_unit(const family_snapshot& f, std::string_view name) noexcept {
  return !f.unit.empty() && f.type != metric_type::info && name.size() > f.unit.size() + 1 &&
         name.ends_with(f.unit) && name[name.size() - f.unit.size() - 1] == '_';
}

/// Writes ` # {labels} value [timestamp]`, an exemplar after a sample's value
/// (OpenMetrics 1.0, "Exemplars"): label values escaped as on samples, the
/// timestamp in seconds when known.
/// https://github.com/OpenObservability/OpenMetrics/blob/main/specification/OpenMetrics.md#exemplars
inline void put_openmetrics_exemplar(output_writer& out, const exemplar_snapshot& e) {
  out.put(" # {");
  bool first = true;
  for (const label_view& l : e.labels) {
    if (!first) out.put(',');
    first = false;
    out.put(l.name);
    out.put("=\"");
    put_escaped(out, l.value, true);
    out.put('"');
  }
  out.put("} ");
  out.put_double(e.value);
  if (e.timestamp) {
    out.put(' ');
    out.put_double(*e.timestamp);
  }
}

/// Writes the sample lines of series `s` of family `f`, whose samples
/// are named from `name`. Exemplars go on a counter's `_total` line and on
/// the first `_bucket` line whose bound is at or above their value (the last
/// one when several fall there); the spec allows them nowhere else.
inline void put_openmetrics_series(output_writer& out, const family_snapshot& f,
                                   std::string_view name, const series_snapshot& s,
                                   bool created) {
  label_set_writer labels(s.labels);
  switch (f.type) {
    case metric_type::counter:
    case metric_type::gauge:
    case metric_type::info: {
      std::string_view suffix;
      if (f.type == metric_type::counter) suffix = "_total";
      else if (f.type == metric_type::info) suffix = "_info";
      put_sample_start(out, name, suffix, labels);
      out.put_number(s.value);
      // A counter has at most one exemplar.
      if (f.type == metric_type::counter && !s.exemplars.empty()) put_openmetrics_exemplar(out, s.exemplars.back());
      out.put('\n');
      if (f.type != metric_type::counter) return;
      break;
    }
    case metric_type::histogram: {
      std::size_t next = 0;
      for (std::size_t i = 0; i < s.buckets.size(); ++i) {
        const bucket_count& b = s.buckets[i];
        put_bound_sample_start(out, name, "_bucket", labels, "le", b.upper_bound,
                               &output_writer::put_canonical_float);
        out.put_uint(b.cumulative_count);
        // Exemplars ascend by value; the last bucket (+Inf) takes the rest.
        const exemplar_snapshot* e = nullptr;
        const bool last = i + 1 == s.buckets.size();
        while (next < s.exemplars.size() && (last || s.exemplars[next].value <= b.upper_bound))
          e = &s.exemplars[next++];
        if (e) put_openmetrics_exemplar(out, *e);
        out.put('\n');
      }
      break;
    }
    case metric_type::summary:
      for (const quantile_value& q : s.quantiles) {
        put_bound_sample_start(out, name, {}, labels, "quantile", q.quantile,
                               &output_writer::put_canonical_float);
        out.put_double(q.value);
        out.put('\n');
      }
      break;
  }
  // A histogram with a negative bucket has a sum that may go down, which
  // OpenMetrics forbids to expose; `_count` may only come with `_sum`.
  const bool has_sum = f.type != metric_type::histogram || s.buckets.empty() || s.buckets.front().upper_bound >= 0;
  if (f.type != metric_type::counter && has_sum) {
    put_sample_start(out, name, "_count", labels);
    out.put_uint(s.count);
    out.put('\n');
    put_sample_start(out, name, "_sum", labels);
    out.put_double(s.sum);
    out.put('\n');
  }
  if (created && s.created) {
    put_sample_start(out, name, "_created", labels);
    out.put_double(*s.created);
    out.put('\n');
  }
}

}  // namespace detail

namespace openmetrics {

OBS_INLINE void render_to(const snapshot& s, std::string& out, const options& opts) {
  obs::detail::output_writer w(out, obs::detail::estimate_text_size(s));
  for (const family_snapshot& f : s.families()) {
    const std::string_view name = obs::detail::openmetrics_family_name(f);
    w.put("# TYPE ");
    w.put(name);
    w.put(' ');
    w.put(to_string(f.type));
    w.put('\n');
    if (obs::detail::openmetrics_has_unit(f, name)) {
      w.put("# UNIT ");
      w.put(name);
      w.put(' ');
      w.put(f.unit);
      w.put('\n');
    }
    if (!f.help.empty()) {
      w.put("# HELP ");
      w.put(name);
      w.put(' ');
      obs::detail::put_escaped(w, f.help, true);
      w.put('\n');
    }
    for (const series_snapshot& series : f.series)
      obs::detail::put_openmetrics_series(w, f, name, series, opts.created);
  }
  w.put("# EOF\n");
}

OBS_INLINE std::string render(const snapshot& s, const options& opts) {
  std::string out;
  render_to(s, out, opts);
  return out;
}

}  // namespace openmetrics
OBS_NAMESPACE_END
