// The definitions of what obs/json.hpp declares: the JSON writer, built on
// the shared exposition writers and fmt.
//
// Header-only, obs/json.hpp includes this file; with OBS_COMPILED_LIB,
// exporters/json/src/json.cpp compiles it once into the obs::json library, and
// its users never include it.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "obs/detail/config.hpp"
#include "obs/detail/exposition_numbers.hpp"
#include "obs/detail/exposition_writer.hpp"
#include "obs/detail/utf8.hpp"
#include "obs/json.hpp"
#include "obs/snapshot.hpp"

OBS_NAMESPACE_BEGIN
namespace detail {

/// Writes `text` as a quoted JSON string.
inline void put_json_string(output_writer& out, std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  out.put('"');
  std::size_t run = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      if (std::size_t n = utf8_sequence_length(text, i)) {
        i += n;
        continue;
      }
    }
    out.put(text.substr(run, i - run));
    if (c == '"') out.put("\\\"");
    else if (c == '\\') out.put("\\\\");
    else if (c < 0x20) {
      const char escape[] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
      out.put(std::string_view(escape, sizeof escape));
    } else {
      out.put("\\ufffd");
    }
    run = ++i;
  }
  out.put(text.substr(run));
  out.put('"');
}

/// Writes a double as a JSON number, or as "NaN", "+Inf", "-Inf".
inline void put_json_double(output_writer& out, double v) {
  if (std::isfinite(v)) {
    out.put_double(v);
    return;
  }
  out.put('"');
  out.put_double(v);
  out.put('"');
}

/// Writes a sample value: exact digits for an integer, else as a double.
inline void put_json_number(output_writer& out, number n) {
  if (n.is_integer()) out.put_uint(n.as_integer());
  else put_json_double(out, n.as_double());
}

/// Writes `{"a":"x",...}`.
inline void put_json_labels(output_writer& out, std::span<const label_view> labels) {
  out.put('{');
  bool first = true;
  for (const label_view& l : labels) {
    if (!first) out.put(',');
    first = false;
    put_json_string(out, l.name);
    out.put(':');
    put_json_string(out, l.value);
  }
  out.put('}');
}

/// Writes `,"exemplar":{"labels":{...},"value":v[,"timestamp":t]}`.
inline void put_json_exemplar(output_writer& out, const exemplar_snapshot& e) {
  out.put(",\"exemplar\":{\"labels\":");
  put_json_labels(out, e.labels);
  out.put(",\"value\":");
  put_json_double(out, e.value);
  if (e.timestamp) {
    out.put(",\"timestamp\":");
    put_json_double(out, *e.timestamp);
  }
  out.put('}');
}

/// Writes the object for series `s` of a family of type `type`.
inline void put_json_series(output_writer& out, metric_type type, const series_snapshot& s) {
  out.put("{\"labels\":");
  put_json_labels(out, s.labels);
  bool first = true;
  if (type == metric_type::histogram) {
    out.put(",\"buckets\":[");
    // Each exemplar on the first bucket at or above its value, the last of
    // several kept, as the OpenMetrics and protobuf exporters place them.
    std::size_t next = 0;
    for (std::size_t i = 0; i < s.buckets.size(); ++i) {
      const bucket_count& b = s.buckets[i];
      out.put(first ? "{\"le\":" : ",{\"le\":");
      first = false;
      put_json_double(out, b.upper_bound);
      out.put(",\"count\":");
      out.put_uint(b.cumulative_count);
      const exemplar_snapshot* e = nullptr;
      const bool last = i + 1 == s.buckets.size();
      while (next < s.exemplars.size() && (last || s.exemplars[next].value <= b.upper_bound)) e = &s.exemplars[next++];
      if (e) put_json_exemplar(out, *e);
      out.put('}');
    }
    out.put(']');
  } else if (type == metric_type::summary) {
    out.put(",\"quantiles\":[");
    first = true;
    for (const quantile_value& q : s.quantiles) {
      out.put(first ? "{\"quantile\":" : ",{\"quantile\":");
      first = false;
      put_json_double(out, q.quantile);
      out.put(",\"value\":");
      put_json_double(out, q.value);
      out.put('}');
    }
    out.put(']');
  } else {
    out.put(",\"value\":");
    put_json_number(out, s.value);
    // A counter has at most one exemplar.
    if (type == metric_type::counter && !s.exemplars.empty()) put_json_exemplar(out, s.exemplars.back());
  }
  if (type == metric_type::histogram || type == metric_type::summary) {
    out.put(",\"sum\":");
    put_json_double(out, s.sum);
    out.put(",\"count\":");
    out.put_uint(s.count);
  }
  if (s.created) {
    out.put(",\"created\":");
    put_json_double(out, *s.created);
  }
  out.put('}');
}

}  // namespace detail

namespace json {

OBS_INLINE void render_to(const snapshot& s, std::string& out) {
  std::size_t estimate = 16;
  for (const family_snapshot& f : s.families()) {
    std::size_t per_series = 48;
    if (!f.series.empty()) {
      const series_snapshot& first = f.series.front();
      for (const label_view& l : first.labels) per_series += l.name.size() + l.value.size() + 8;
      per_series += (first.buckets.size() + first.quantiles.size()) * 40;
    }
    estimate += f.name.size() + f.help.size() + f.unit.size() + 64 + f.series.size() * per_series;
  }
  obs::detail::output_writer w(out, estimate + estimate / 8);

  w.put("{\"metrics\":[");
  bool first_family = true;
  for (const family_snapshot& f : s.families()) {
    w.put(first_family ? "{\"name\":" : ",{\"name\":");
    first_family = false;
    obs::detail::put_json_string(w, f.name);
    w.put(",\"type\":\"");
    w.put(to_string(f.type));
    w.put("\",\"help\":");
    obs::detail::put_json_string(w, f.help);
    w.put(",\"unit\":");
    obs::detail::put_json_string(w, f.unit);
    w.put(",\"series\":[");
    bool first_series = true;
    for (const series_snapshot& series : f.series) {
      if (!first_series) w.put(',');
      first_series = false;
      obs::detail::put_json_series(w, f.type, series);
    }
    w.put("]}");
  }
  w.put("]}");
}

OBS_INLINE std::string render(const snapshot& s) {
  std::string out;
  render_to(s, out);
  return out;
}

}  // namespace json
OBS_NAMESPACE_END
