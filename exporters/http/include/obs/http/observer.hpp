// obs::http::observer: what the endpoint reports about its own work
// (responses, errors by cause, scrape durations), and obs::http::error_cause.
//
// Use it to feed the endpoint's self-metrics somewhere. The handler and the
// server call it; obs::http::self_metrics (self_metrics.hpp) implements it with
// obs counters and a histogram, so the server itself knows nothing of the
// registry. Implementations must be thread-safe: every I/O thread and every
// render thread calls them.
#pragma once

#include <cstddef>
#include <string_view>

#include "obs/detail/config.hpp"
#include "obs/http/negotiation.hpp"

OBS_NAMESPACE_BEGIN
namespace http {

/// Why a request failed or was refused, or a connection was not accepted.
enum class error_cause {
  bad_request,         ///< unparsable request or bad `?format=` (400)
  unauthorized,        ///< missing or wrong credentials (401)
  not_found,           ///< unknown path (404)
  method_not_allowed,  ///< e.g. POST /metrics (405)
  not_acceptable,      ///< Accept refuses every format served (406)
  body_too_large,      ///< 413
  header_too_large,    ///< 431
  handler_failed,      ///< a render or route handler threw (500)
  connection_limit,    ///< too many open connections (503)
  scrape_limit,        ///< too many renders at once (503)
  timeout,             ///< header, idle or write timeout; connection closed
  accept_failed,       ///< accepting a connection failed (e.g. out of descriptors); one per attempt, retried
};

/// The label value of a cause, e.g. "header_too_large".
constexpr std::string_view to_string(error_cause c) noexcept {
  switch (c) {
    case error_cause::bad_request: return "bad_request";
    case error_cause::unauthorized: return "unauthorized";
    case error_cause::not_found: return "not_found";
    case error_cause::method_not_allowed: return "method_not_allowed";
    case error_cause::not_acceptable: return "not_acceptable";
    case error_cause::body_too_large: return "body_too_large";
    case error_cause::header_too_large: return "header_too_large";
    case error_cause::handler_failed: return "handler_failed";
    case error_cause::connection_limit: return "connection_limit";
    case error_cause::scrape_limit: return "scrape_limit";
    case error_cause::timeout: return "timeout";
    case error_cause::accept_failed: return "accept_failed";
  }
  return "unknown";
}

/// Receives the endpoint's events. Every function may be called concurrently.
class observer {
 public:
  virtual ~observer() = default;
  /// A response was sent. `route` is the matched route's path, or "other"
  /// for paths that matched none (bounding the label's cardinality).
  virtual void on_response(std::string_view route, unsigned status, std::size_t body_bytes) = 0;
  /// A request failed or was refused for `cause`, or (accept_failed) a
  /// connection could not be accepted.
  virtual void on_error(error_cause cause) = 0;
  /// A metrics body was rendered in `seconds` (compression included).
  virtual void on_scrape(format f, double seconds) = 0;
};

}  // namespace http
OBS_NAMESPACE_END
