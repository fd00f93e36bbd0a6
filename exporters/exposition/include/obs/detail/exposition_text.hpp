// Pieces shared by the Prometheus 0.0.4 and OpenMetrics text exporters:
// escaping, label sets and a size estimate for the output string.
//
// Both formats escape label values the same way (`\\`, `\"`, `\n`); they
// differ in help text, where 0.0.4 leaves `"` alone:
// https://prometheus.io/docs/instrumenting/exposition_formats/#text-format-details
// https://prometheus.io/docs/specs/om/open_metrics_spec/#escaping
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

#include "obs/detail/config.hpp"
#include "obs/detail/exposition_writer.hpp"
#include "obs/snapshot.hpp"

OBS_NAMESPACE_BEGIN
namespace detail {

/// Writes `text` with `\` and newline escaped, and `"` too when asked.
inline void put_escaped(output_writer& out, std::string_view text, bool escape_quote) {
  std::size_t run = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    char replacement;
    if (c == '\\') replacement = '\\';
    else if (c == '\n') replacement = 'n';
    else if (c == '"' && escape_quote) replacement = '"';
    else continue;
    out.put(text.substr(run, i - run));
    const char escape[] = {'\\', replacement};
    out.put(std::string_view(escape, 2));
    run = i + 1;
  }
  out.put(text.substr(run));
}

/// The `{...}` part of one series' sample lines.
///
/// A histogram writes the same labels on every bucket line, so the escaped
/// labels are written once and later lines copy them from the output.
class label_set_writer {
 public:
  explicit label_set_writer(std::span<const label_view> labels) noexcept : labels_(labels) {}

  /// Writes `{a="x",b="y"}`, or nothing when there are no labels.
  void put(output_writer& out) {
    if (labels_.empty()) return;
    out.put('{');
    put_labels(out);
    out.put('}');
  }

  /// Writes `{a="x",b="y",extra_name="` (the caller writes the extra value
  /// and then `"}`); the extra label comes last, as `le` and `quantile` must.
  void put_with_extra(output_writer& out, std::string_view extra_name) {
    out.put('{');
    if (!labels_.empty()) {
      put_labels(out);
      out.put(',');
    }
    out.put(extra_name);
    out.put("=\"");
  }

 private:
  void put_labels(output_writer& out) {
    if (written_) {
      out.repeat(pos_, size_);
      return;
    }
    pos_ = out.size();
    bool first = true;
    for (const label_view& l : labels_) {
      if (!first) out.put(',');
      first = false;
      out.put(l.name);
      out.put("=\"");
      put_escaped(out, l.value, true);
      out.put('"');
    }
    size_ = out.size() - pos_;
    written_ = true;
  }

  std::span<const label_view> labels_;
  std::size_t pos_ = 0;
  std::size_t size_ = 0;
  bool written_ = false;
};

/// Writes `name` `suffix` `{labels}` and the space before the value.
inline void put_sample_start(output_writer& out, std::string_view name, std::string_view suffix,
                             label_set_writer& labels) {
  out.put(name);
  out.put(suffix);
  labels.put(out);
  out.put(' ');
}

/// Writes a `_bucket` or quantile line's start: `name` `suffix`
/// `{labels,extra_name="` `bound` `"} `, with `bound` written by `format`.
inline void put_bound_sample_start(output_writer& out, std::string_view name,
                                   std::string_view suffix, label_set_writer& labels,
                                   std::string_view extra_name, double bound,
                                   void (output_writer::*format)(double)) {
  out.put(name);
  out.put(suffix);
  labels.put_with_extra(out, extra_name);
  (out.*format)(bound);
  out.put("\"} ");
}

/// A generous guess at the text size of `s`, so rendering grows the output
/// string rarely. Reads only the first series' labels of each family.
inline std::size_t estimate_text_size(const snapshot& s) noexcept {
  std::size_t total = 16;
  for (const family_snapshot& f : s.families()) {
    total += 2 * f.name.size() + f.help.size() + f.unit.size() + 64;
    if (f.series.empty()) continue;
    const series_snapshot& first = f.series.front();
    std::size_t labels = 2;
    for (const label_view& l : first.labels) labels += l.name.size() + l.value.size() + 4;
    std::size_t lines = 1;
    if (f.type == metric_type::histogram) lines = first.buckets.size() + 3;
    else if (f.type == metric_type::summary) lines = first.quantiles.size() + 3;
    // Name, suffix, `le` label and value: about 40 bytes beyond the labels.
    total += f.series.size() * lines * (f.name.size() + labels + 40);
  }
  return total + total / 8;
}

}  // namespace detail
OBS_NAMESPACE_END
