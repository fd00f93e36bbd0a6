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
// gets the Prometheus text format 0.0.4. Prometheus 2.42 started with
// `--enable-feature=native-histograms` sends (scrape/scrape.go,
// scrapeAcceptHeaderWithProtobuf)
//
//   Accept: application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,
//           application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,
//           text/plain;version=0.0.4;q=0.5,*/*;q=0.1
//
// and gets the protobuf format where the endpoint offers it (a handler's
// options::formats holds format::protobuf; obs::http::serve with
// obs::protobuf::render_to sets that up), else OpenMetrics.
//
// Wire formats:
//   text 0.0.4   https://prometheus.io/docs/instrumenting/exposition_formats/
//   OpenMetrics  https://github.com/OpenObservability/OpenMetrics/blob/main/specification/OpenMetrics.md
//   protobuf     https://prometheus.io/docs/instrumenting/exposition_formats/#protobuf-format
//                (io.prometheus.client.MetricFamily, client_model's metrics.proto)
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
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
  protobuf,         ///< application/vnd.google.protobuf, delimited MetricFamily (obs::protobuf)
};

/// A set of formats: those an endpoint offers (options::formats).
///
///   obs::http::format_set f = obs::http::text_formats;
///   f = f.with(obs::http::format::protobuf);
class format_set {
 public:
  constexpr format_set() noexcept = default;
  constexpr format_set(std::initializer_list<format> formats) noexcept {
    for (format f : formats) bits_ |= bit(f);
  }
  /// Whether `f` is in the set.
  constexpr bool contains(format f) const noexcept { return (bits_ & bit(f)) != 0; }
  /// This set with `f` added.
  constexpr format_set with(format f) const noexcept {
    format_set s = *this;
    s.bits_ |= bit(f);
    return s;
  }
  /// This set without `f`.
  constexpr format_set without(format f) const noexcept {
    format_set s = *this;
    s.bits_ &= static_cast<std::uint8_t>(~bit(f));
    return s;
  }
  friend constexpr bool operator==(format_set, format_set) noexcept = default;

 private:
  static constexpr std::uint8_t bit(format f) noexcept { return static_cast<std::uint8_t>(1u << static_cast<int>(f)); }
  std::uint8_t bits_ = 0;
};

/// The formats obs::http offers unless told otherwise: those of its own
/// exporters, which need nothing beyond fmt. Protobuf comes from
/// obs::protobuf (protozero), so an endpoint offers it only when asked.
inline constexpr format_set text_formats{format::prometheus_text, format::openmetrics, format::json};

/// Renders the metrics body in a format. Called once per scrape, possibly on
/// several threads at once.
///
///   obs::http::render_fn render = [](obs::http::format) { return std::string("up 1\n"); };
using render_fn = std::function<std::string(format)>;

/// The full `Content-Type` of a format, with version and charset: the
/// constant of the exporter that renders it (obs::prometheus::content_type,
/// obs::openmetrics::content_type, obs::json::content_type,
/// obs::protobuf::content_type).
///
///   res.set(field::content_type, obs::http::content_type(obs::http::format::openmetrics));
std::string_view content_type(format f) noexcept;

/// The name `?format=` uses for a format: "prometheus", "openmetrics", "json",
/// "protobuf".
constexpr std::string_view to_string(format f) noexcept {
  switch (f) {
    case format::openmetrics: return "openmetrics";
    case format::json: return "json";
    case format::protobuf: return "protobuf";
    case format::prometheus_text: break;
  }
  return "prometheus";
}

/// Picks the format for an `Accept` header value among those `offered`, or
/// nullopt when the client accepts none of them, which calls for 406.
///
/// Each format takes the q of the most specific range that covers it
/// (RFC 9110 section 12.5.1): `application/openmetrics-text` over
/// `application/*` over `*/*`, so `text/plain;q=0, */*` refuses text and
/// admits the rest. A range's `version` parameter, and for protobuf its
/// `proto` and `encoding`, must be ours when given. The highest q wins; among
/// equal q, the format named more specifically, then the one listed first,
/// then our preference: text, OpenMetrics, JSON, protobuf (so `*/*` gets
/// text and `application/*` OpenMetrics). Ranges we cannot serve are
/// skipped, and a header that covers none of the offered formats gets the
/// text format: scrapers that send odd Accept headers still get metrics.
///
///   obs::http::negotiate("application/openmetrics-text;version=1.0.0")  // openmetrics
///   obs::http::negotiate("")                                           // prometheus_text
///   obs::http::negotiate("text/plain;q=0, application/*;q=0, */*")     // nullopt: 406
///   obs::http::negotiate("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;"
///                        "encoding=delimited,text/plain;q=0.5",
///                        obs::http::text_formats.with(obs::http::format::protobuf))  // protobuf
std::optional<format> negotiate(std::string_view accept, format_set offered = text_formats);

/// The format a `?format=` value names ("prometheus"/"text", "openmetrics",
/// "json", "protobuf"), or nullopt for anything else.
constexpr std::optional<format> format_from_name(std::string_view name) noexcept {
  if (name == "prometheus" || name == "text") return format::prometheus_text;
  if (name == "openmetrics") return format::openmetrics;
  if (name == "json") return format::json;
  if (name == "protobuf") return format::protobuf;
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
