// obs::http::format and content negotiation: which exposition format and
// which content coding a scrape gets, from its `Accept`, `Accept-Encoding` and
// `?format=` parameter.
//
// Use negotiate() when serving metrics from your own HTTP stack; the handler
// uses it for /metrics. Prometheus 2.x sends (RFC 9110 section 12.5.1 syntax)
//
//   Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1
//
// and gets OpenMetrics; a client that sends nothing, or prefers text/plain,
// gets the Prometheus text format 0.0.4.
//
// Wire formats:
//   text 0.0.4   https://prometheus.io/docs/instrumenting/exposition_formats/
//   OpenMetrics  https://github.com/OpenObservability/OpenMetrics/blob/main/specification/OpenMetrics.md
#pragma once

#include <charconv>
#include <cstddef>
#include <iterator>
#include <optional>
#include <string_view>

#include "obs/detail/config.hpp"

OBS_NAMESPACE_BEGIN
namespace http {

/// An exposition format the endpoint can serve.
enum class format {
  prometheus_text,  ///< text/plain; version=0.0.4 (the fallback)
  openmetrics,      ///< application/openmetrics-text; version=1.0.0
  json,             ///< application/json (obs::json)
};

/// The full `Content-Type` of a format, with version and charset.
///
///   res.set(field::content_type, obs::http::content_type(obs::http::format::openmetrics));
constexpr std::string_view content_type(format f) noexcept {
  switch (f) {
    case format::openmetrics: return "application/openmetrics-text; version=1.0.0; charset=utf-8";
    case format::json: return "application/json";
    case format::prometheus_text: break;
  }
  return "text/plain; version=0.0.4; charset=utf-8";
}

/// The name `?format=` uses for a format: "prometheus", "openmetrics", "json".
constexpr std::string_view to_string(format f) noexcept {
  switch (f) {
    case format::openmetrics: return "openmetrics";
    case format::json: return "json";
    case format::prometheus_text: break;
  }
  return "prometheus";
}

namespace detail {

constexpr bool is_space(char c) noexcept { return c == ' ' || c == '\t'; }

constexpr std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

constexpr char lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

/// Splits off the text up to the next unquoted `sep`, so a quoted parameter
/// value may contain the separator (RFC 9110 section 5.6.4).
constexpr std::string_view next_item(std::string_view& list, char sep) noexcept {
  bool quoted = false;
  std::size_t i = 0;
  for (; i < list.size(); ++i) {
    if (list[i] == '"') quoted = !quoted;
    else if (list[i] == '\\' && quoted && i + 1 < list.size()) ++i;
    else if (list[i] == sep && !quoted) break;
  }
  std::string_view item = list.substr(0, i);
  list.remove_prefix(i < list.size() ? i + 1 : i);
  return trim(item);
}

/// One element of an Accept or Accept-Encoding list: its value, the
/// parameters other than q, and its weight.
struct weighted_item {
  std::string_view value;
  std::string_view version;  // the `version` parameter, unquoted; empty if absent
  double q = 1.0;
  bool valid = true;
};

/// Parses `value;param=x;q=0.5`. An unparsable weight makes the item invalid
/// (ignored) rather than guessed at.
inline weighted_item parse_item(std::string_view item) {
  weighted_item out;
  out.value = next_item(item, ';');
  while (!item.empty()) {
    std::string_view param = next_item(item, ';');
    const std::size_t eq = param.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string_view name = trim(param.substr(0, eq));
    std::string_view value = trim(param.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    if (iequals(name, "q")) {
      // qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), RFC 9110 12.4.2
      double q = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), q);
      if (ec != std::errc{} || end != value.data() + value.size() || q < 0 || q > 1)
        out.valid = false;
      else
        out.q = q;
    } else if (iequals(name, "version")) {
      out.version = value;
    }
  }
  return out;
}

/// How specifically a media range names format `f`: 2 for its exact type
/// (with our version, or none), 1 for `type/*`, 0 for `*/*`, or nullopt when
/// the range does not cover `f`.
inline std::optional<int> range_specificity(const weighted_item& range, format f) {
  struct media_type {
    std::string_view type, subtype, version;  // version empty: any
  };
  constexpr media_type served[] = {
      {"text", "plain", "0.0.4"},                    // prometheus_text
      {"application", "openmetrics-text", "1.0.0"},  // openmetrics
      {"application", "json", ""},                   // json
  };
  const media_type& m = served[static_cast<int>(f)];
  const std::size_t slash = range.value.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const std::string_view type = range.value.substr(0, slash);
  const std::string_view subtype = range.value.substr(slash + 1);
  if (type == "*" && subtype == "*") return 0;
  if (!iequals(type, m.type)) return std::nullopt;
  if (subtype == "*") return 1;
  if (!iequals(subtype, m.subtype)) return std::nullopt;
  // Our output is OpenMetrics 1.0.0 and text 0.0.4; other versions are not it.
  if (!range.version.empty() && !m.version.empty() && range.version != m.version) return std::nullopt;
  return 2;
}

}  // namespace detail

/// Picks the format for an `Accept` header value, or nullopt when the client
/// accepts none of the formats we serve, which calls for 406.
///
/// Each format takes the q of the most specific range that covers it
/// (RFC 9110 section 12.5.1): `application/openmetrics-text` over
/// `application/*` over `*/*`, so `text/plain;q=0, */*` refuses text and
/// admits the rest. The highest q wins; among equal q, the format named more
/// specifically, then the one listed first, then our preference: text,
/// OpenMetrics, JSON (so `*/*` gets text and `application/*` OpenMetrics).
/// Ranges we cannot serve are skipped, and a header that covers none of our
/// formats gets the text format: scrapers that send odd Accept headers still
/// get metrics.
///
///   obs::http::negotiate("application/openmetrics-text;version=1.0.0")  // openmetrics
///   obs::http::negotiate("")                                           // prometheus_text
///   obs::http::negotiate("text/plain;q=0, application/*;q=0, */*")     // nullopt: 406
inline std::optional<format> negotiate(std::string_view accept) {
  // Ours, in our order of preference.
  constexpr format formats[] = {format::prometheus_text, format::openmetrics, format::json};
  struct grade {
    int specificity = -1;  // of the range that set q; -1: no range covers the format
    double q = 0;
    std::size_t position = 0;  // of that range in the list
  };
  grade grades[std::size(formats)];
  bool covered_any = false;
  for (std::size_t position = 0; !accept.empty(); ++position) {
    const detail::weighted_item item = detail::parse_item(detail::next_item(accept, ','));
    if (!item.valid || item.value.empty()) continue;
    for (format f : formats) {
      const std::optional<int> specificity = detail::range_specificity(item, f);
      if (!specificity) continue;
      covered_any = true;
      grade& g = grades[static_cast<int>(f)];
      // Two ranges as specific (`text/plain;q=0.5, text/plain`): the more generous.
      if (*specificity > g.specificity || (*specificity == g.specificity && item.q > g.q))
        g = {*specificity, item.q, position};
    }
  }
  if (!covered_any) return format::prometheus_text;
  const auto outranks = [](const grade& a, const grade& b) {
    if (a.q != b.q) return a.q > b.q;
    if (a.specificity != b.specificity) return a.specificity > b.specificity;
    return a.position < b.position;
  };
  std::optional<format> best;
  for (format f : formats) {
    const grade& g = grades[static_cast<int>(f)];
    // q=0 means "not acceptable" (RFC 9110 section 12.4.2).
    if (g.specificity < 0 || g.q == 0) continue;
    // Strictly: a tie keeps the format we prefer, listed earlier in `formats`.
    if (!best || outranks(g, grades[static_cast<int>(*best)])) best = f;
  }
  return best;
}

/// The format a `?format=` value names ("prometheus"/"text", "openmetrics",
/// "json"), or nullopt for anything else.
constexpr std::optional<format> format_from_name(std::string_view name) noexcept {
  if (name == "prometheus" || name == "text") return format::prometheus_text;
  if (name == "openmetrics") return format::openmetrics;
  if (name == "json") return format::json;
  return std::nullopt;
}

/// Whether an `Accept-Encoding` value allows gzip (RFC 9110 section 12.5.3):
/// `gzip` or `x-gzip` with q>0, or `*` with q>0 when gzip is not named.
///
///   obs::http::accepts_gzip("gzip, deflate")   // true
///   obs::http::accepts_gzip("gzip;q=0, *")     // false
inline bool accepts_gzip(std::string_view accept_encoding) {
  std::optional<bool> named;
  bool wildcard = false;
  while (!accept_encoding.empty()) {
    const detail::weighted_item item =
        detail::parse_item(detail::next_item(accept_encoding, ','));
    if (!item.valid) continue;
    if (detail::iequals(item.value, "gzip") || detail::iequals(item.value, "x-gzip"))
      named = named.value_or(false) || item.q > 0;
    else if (item.value == "*")
      wildcard = item.q > 0;
  }
  return named.value_or(wildcard);
}

}  // namespace http
OBS_NAMESPACE_END
