// Definitions of obs/http/negotiation.hpp: the Accept and Accept-Encoding
// parsers, and the content types, taken from the exporters that render them.
#pragma once

#include <charconv>
#include <cstddef>
#include <iterator>
#include <optional>
#include <string_view>
#include <system_error>

#include "obs/detail/config.hpp"
#include "obs/http/detail/ascii.hpp"
#include "obs/http/negotiation.hpp"
#include "obs/json.hpp"
#include "obs/openmetrics.hpp"
#include "obs/prometheus.hpp"

OBS_NAMESPACE_BEGIN
namespace http {

OBS_INLINE std::string_view content_type(format f) noexcept {
  switch (f) {
    case format::openmetrics: return openmetrics::content_type;
    case format::json: return json::content_type;
    // obs::protobuf::content_type, spelled here because obs::http does not
    // depend on the protobuf component (http_negotiation_test checks they agree).
    case format::protobuf:
      return "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";
    case format::prometheus_text: break;
  }
  return prometheus::content_type;
}

namespace detail {

constexpr bool is_space(char c) noexcept { return c == ' ' || c == '\t'; }

constexpr std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
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

/// One element of an Accept or Accept-Encoding list, or of a Content-Type:
/// its value, the parameters that tell our formats apart, and its weight.
struct weighted_item {
  std::string_view value;
  std::string_view version;   // the `version` parameter, unquoted; empty if absent
  std::string_view proto;     // protobuf's `proto` (the message type); empty if absent
  std::string_view encoding;  // protobuf's `encoding` (`delimited`, `text`, ...); empty if absent
  double q = 1.0;
  bool valid = true;
};

/// Parses `value;param=x;q=0.5`. An unparsable weight makes the item invalid
/// (ignored) rather than guessed at.
OBS_INLINE weighted_item parse_item(std::string_view item) {
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
    } else if (iequals(name, "proto")) {
      out.proto = value;
    } else if (iequals(name, "encoding")) {
      out.encoding = value;
    }
  }
  return out;
}

/// How specifically a media range names format `f`: 2 for its exact type
/// (with our version, or none), 1 for `type/*`, 0 for `*/*`, or nullopt when
/// the range does not cover `f`.
OBS_INLINE std::optional<int> range_specificity(const weighted_item& range, format f) {
  // What we serve is what content_type() says, parsed like a media range, so
  // the exporters' constants stay the one spelling of type, subtype and version.
  const weighted_item served = parse_item(content_type(f));
  const std::size_t served_slash = served.value.find('/');
  const std::string_view served_type = served.value.substr(0, served_slash);
  const std::string_view served_subtype = served.value.substr(served_slash + 1);

  const std::size_t slash = range.value.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const std::string_view type = range.value.substr(0, slash);
  const std::string_view subtype = range.value.substr(slash + 1);
  if (type == "*" && subtype == "*") return 0;
  if (!iequals(type, served_type)) return std::nullopt;
  if (subtype == "*") return 1;
  if (!iequals(subtype, served_subtype)) return std::nullopt;
  // Our output is OpenMetrics 1.0.0 and text 0.0.4; other versions are not it.
  // A served type without a version (JSON) matches any. Likewise protobuf's
  // message type and encoding: we write delimited MetricFamily messages, not
  // `encoding=text` nor `compact-text`.
  const auto differs = [](std::string_view asked, std::string_view ours) {
    return !asked.empty() && !ours.empty() && asked != ours;
  };
  if (differs(range.version, served.version) || differs(range.proto, served.proto) ||
      differs(range.encoding, served.encoding))
    return std::nullopt;
  return 2;
}

}  // namespace detail

OBS_INLINE std::optional<format> negotiate(std::string_view accept, format_set offered) {
  // Ours, in our order of preference.
  constexpr format formats[] = {format::prometheus_text, format::openmetrics, format::json, format::protobuf};
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
      if (!offered.contains(f)) continue;
      const std::optional<int> specificity = detail::range_specificity(item, f);
      if (!specificity) continue;
      covered_any = true;
      grade& g = grades[static_cast<int>(f)];
      // Two ranges as specific (`text/plain;q=0.5, text/plain`): the more generous.
      if (*specificity > g.specificity || (*specificity == g.specificity && item.q > g.q))
        g = {*specificity, item.q, position};
    }
  }
  if (!covered_any) {
    // The text format, or what we offer first instead.
    for (format f : formats)
      if (offered.contains(f)) return f;
    return std::nullopt;
  }
  const auto outranks = [](const grade& a, const grade& b) {
    if (a.q != b.q) return a.q > b.q;
    if (a.specificity != b.specificity) return a.specificity > b.specificity;
    return a.position < b.position;
  };
  std::optional<format> best;
  for (format f : formats) {
    if (!offered.contains(f)) continue;
    const grade& g = grades[static_cast<int>(f)];
    // q=0 means "not acceptable" (RFC 9110 section 12.4.2).
    if (g.specificity < 0 || g.q == 0) continue;
    // Strictly: a tie keeps the format we prefer, listed earlier in `formats`.
    if (!best || outranks(g, grades[static_cast<int>(*best)])) best = f;
  }
  return best;
}

OBS_INLINE bool accepts_gzip(std::string_view accept_encoding) {
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
