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
#include <string>
#include <string_view>

#include "obs/detail/config.hpp"
#include "obs/snapshot.hpp"

OBS_NAMESPACE_BEGIN
namespace detail {

/// Appends `text` with `\` and newline escaped, and `"` too when asked.
inline void append_escaped(std::string& out, std::string_view text, bool escape_quote) {
  std::size_t run = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    char replacement;
    if (c == '\\') replacement = '\\';
    else if (c == '\n') replacement = 'n';
    else if (c == '"' && escape_quote) replacement = '"';
    else continue;
    out.append(text.data() + run, i - run);
    out += '\\';
    out += replacement;
    run = i + 1;
  }
  out.append(text.data() + run, text.size() - run);
}

/// The `{...}` part of one series' sample lines.
///
/// A histogram writes the same labels on every bucket line, so the escaped
/// labels are written once and later lines copy them from `out` itself.
class label_set_writer {
 public:
  explicit label_set_writer(std::span<const label_view> labels) noexcept : labels_(labels) {}

  /// Appends `{a="x",b="y"}`, with `extra_name="extra_value"` last when
  /// `extra_name` is non-empty; appends nothing when there are no labels.
  /// `extra_value` is written as is: it is a number, never needing escapes.
  void append(std::string& out, std::string_view extra_name = {},
              std::string_view extra_value = {}) {
    const bool extra = !extra_name.empty();
    if (labels_.empty() && !extra) return;
    out += '{';
    if (!labels_.empty()) {
      if (written_) {
        out.append(out, pos_, size_);
      } else {
        pos_ = out.size();
        bool first = true;
        for (const label_view& l : labels_) {
          if (!first) out += ',';
          first = false;
          out += l.name;
          out += "=\"";
          append_escaped(out, l.value, true);
          out += '"';
        }
        size_ = out.size() - pos_;
        written_ = true;
      }
      if (extra) out += ',';
    }
    if (extra) {
      out += extra_name;
      out += "=\"";
      out += extra_value;
      out += '"';
    }
    out += '}';
  }

 private:
  std::span<const label_view> labels_;
  std::size_t pos_ = 0;
  std::size_t size_ = 0;
  bool written_ = false;
};

/// Appends `name` `suffix` `{labels}` and the space before the value.
inline void append_sample_start(std::string& out, std::string_view name, std::string_view suffix,
                                label_set_writer& labels, std::string_view extra_name = {},
                                std::string_view extra_value = {}) {
  out += name;
  out += suffix;
  labels.append(out, extra_name, extra_value);
  out += ' ';
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
