// obs::http::format and content negotiation: which exposition format and
// which content coding a scrape gets, from its `Accept`, `Accept-Encoding` and
// `?format=` parameter; and obs::http::render_fn, what renders a format.
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

#include <functional>
#include <optional>
#include <string>
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

/// Renders the metrics body in a format. Called once per scrape, possibly on
/// several threads at once.
///
///   obs::http::render_fn render = [](obs::http::format) { return std::string("up 1\n"); };
using render_fn = std::function<std::string(format)>;

/// The full `Content-Type` of a format, with version and charset: the
/// constant of the exporter that renders it (obs::prometheus::content_type,
/// obs::openmetrics::content_type, obs::json::content_type).
///
///   res.set(field::content_type, obs::http::content_type(obs::http::format::openmetrics));
std::string_view content_type(format f) noexcept;

/// The name `?format=` uses for a format: "prometheus", "openmetrics", "json".
constexpr std::string_view to_string(format f) noexcept {
  switch (f) {
    case format::openmetrics: return "openmetrics";
    case format::json: return "json";
    case format::prometheus_text: break;
  }
  return "prometheus";
}

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
std::optional<format> negotiate(std::string_view accept);

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
bool accepts_gzip(std::string_view accept_encoding);

}  // namespace http
OBS_NAMESPACE_END

#if OBS_HEADER_ONLY
#include "obs/http/negotiation-inl.hpp"
#endif
