// obs::json: renders a snapshot as one JSON document, for dashboards,
// debugging endpoints and log shippers that want metrics without a
// Prometheus parser.
//
// Use it when the reader is a program that speaks JSON (RFC 8259,
// https://www.rfc-editor.org/rfc/rfc8259); scrapers want obs::prometheus or
// obs::openmetrics. The schema, with every key always present unless marked
// optional, is documented with examples in docs/exporters.md:
//
//   {"metrics": [
//     {"name": "http_requests_total", "type": "counter", "help": "...", "unit": "",
//      "series": [
//        {"labels": {"method": "GET"}, "value": 3, "created": 1700000000.5},
//        ...]}]}
//
// - `type` is "counter", "gauge", "histogram", "summary" or "info";
// - counter, gauge, info series: `labels`, `value`;
// - histogram series: `labels`, `buckets` (`[{"le": 0.5, "count": 2}, ...]`,
//   cumulative, ascending, the last `le` is "+Inf"), `sum`, `count`;
// - summary series: `labels`, `quantiles` (`[{"quantile": 0.5, "value":
//   1.2}, ...]`), `sum`, `count`;
// - `created` (optional): seconds since the epoch, when known;
// - `exemplar` (optional), on a counter series and on the histogram bucket
//   it belongs to (the first whose `le` is at or above its value):
//   `{"labels": {"trace_id": "abc"}, "value": 0.25, "timestamp": 1700000000.5}`,
//   `timestamp` only when known.
// Numbers JSON cannot hold are strings: "NaN", "+Inf", "-Inf". Integers
// (u64 counters, counts) are exact, even above 2^53; a reader that parses
// numbers as doubles loses that, not the text. Strings are escaped in full;
// bytes that are not valid UTF-8 become U+FFFD, so the output is always
// valid JSON.
#pragma once

#include <string>
#include <string_view>

#include "obs/detail/config.hpp"
#include "obs/snapshot.hpp"

OBS_NAMESPACE_BEGIN
namespace json {

/// The HTTP `Content-Type` of the bodies this namespace renders.
inline constexpr std::string_view content_type = "application/json";

/// Appends the JSON document for `s` to `out`.
///
///   std::string body;
///   obs::json::render_to(registry.snapshot(), body);
OBS_INLINE void render_to(const snapshot& s, std::string& out);

/// Returns the JSON document for `s`.
///
///   obs::snapshot_builder b;
///   b.add_family("jobs_total", obs::metric_type::counter, "Jobs run.");
///   b.add_series({{"queue", "mail"}}, obs::number::integer(3));
///   std::string text = obs::json::render(std::move(b).build());
///   // {"metrics":[{"name":"jobs_total","type":"counter","help":"Jobs run.",
///   //   "unit":"","series":[{"labels":{"queue":"mail"},"value":3}]}]}
OBS_INLINE std::string render(const snapshot& s);

}  // namespace json
OBS_NAMESPACE_END

// Header-only, the definitions come with the declarations; with
// OBS_COMPILED_LIB they are in the obs::json library, and this header stays
// free of fmt and of the exposition writers.
#if OBS_HEADER_ONLY
#include "obs/json-inl.hpp"
#endif
