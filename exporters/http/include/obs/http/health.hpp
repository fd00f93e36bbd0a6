// obs::http::health: the application's health checks and readiness flag,
// rendered as the JSON bodies of /health, /health/live and /health/ready.
//
// Use it to tell an orchestrator or load balancer whether to send traffic:
// register a check per dependency, mark the ones the service cannot run
// without as critical, and flip readiness when warm-up is done.
//
//   auto& h = server.health();
//   h.add_check("database", [&] {
//     return db.ping() ? obs::http::check_result::healthy("Database connection OK")
//                      : obs::http::check_result::unhealthy("no connection");
//   });
//   h.add_check("cache", [&] { return cache_probe(); }, obs::http::criticality::optional);
//   h.set_ready(true);
//
// GET /health answers, with 200 (healthy, degraded) or 503 (unhealthy):
//
//   {"status":"healthy","timestamp":"2025-11-24T10:30:00Z","uptime_seconds":3600,
//    "components":{"database":{"status":"healthy","message":"Database connection OK",
//                              "response_time_ms":5}}}
//
// Thread safety: every member may be called from any thread. Checks run on the
// thread serving the probe, one after another, outside the internal lock; in
// obs::http::server that is an I/O thread, so keep them quick (a cached result,
// a ping with a short timeout) or they hold up what else it serves.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "obs/detail/config.hpp"

OBS_NAMESPACE_BEGIN
namespace http {

/// The state of one component, or of the whole service.
enum class health_status {
  healthy,    ///< works
  degraded,   ///< works with reduced quality; still serves traffic
  unhealthy,  ///< does not work
};

/// The JSON name of a status: "healthy", "degraded", "unhealthy".
constexpr std::string_view to_string(health_status s) noexcept {
  switch (s) {
    case health_status::degraded: return "degraded";
    case health_status::unhealthy: return "unhealthy";
    case health_status::healthy: break;
  }
  return "healthy";
}

/// Whether an unhealthy component makes the whole service unhealthy.
enum class criticality {
  critical,  ///< unhealthy here: service unhealthy (503)
  optional,  ///< unhealthy here: service degraded (still 200)
};

/// What a health check returns: a status and a human-readable message.
struct check_result {
  health_status status = health_status::healthy;
  std::string message;

  /// A check that passed.
  [[nodiscard("return it from the check")]] static check_result healthy(std::string message = {}) {
    return {health_status::healthy, std::move(message)};
  }
  /// A check that passed with reduced quality.
  [[nodiscard("return it from the check")]] static check_result degraded(std::string message) {
    return {health_status::degraded, std::move(message)};
  }
  /// A check that failed.
  [[nodiscard("return it from the check")]] static check_result unhealthy(std::string message) {
    return {health_status::unhealthy, std::move(message)};
  }
};

namespace detail {

/// Appends `s` as a JSON string literal (RFC 8259 section 7). A byte that
/// starts no valid UTF-8 sequence becomes U+FFFD, so a check's message with
/// arbitrary bytes still yields a JSON body (RFC 8259 section 8.1).
void append_json_string(std::string& out, std::string_view s);

/// `2025-11-24T10:30:00Z`: RFC 3339 UTC with whole seconds.
std::string rfc3339_now();

}  // namespace detail

/// Health checks, a readiness flag, and the probe bodies built from them.
class health {
 public:
  /// A probe's outcome: whether it passed (200) or not (503), and its JSON.
  struct report {
    bool ok = true;                                 ///< 200 if true, else 503
    health_status status = health_status::healthy;  ///< the overall status
    std::string body;                               ///< the JSON body
  };

  health() = default;
  health(const health&) = delete;
  health& operator=(const health&) = delete;

  /// Registers a check run on every GET /health (and /health/ready). A check
  /// that throws counts as unhealthy, with the exception's message.
  void add_check(std::string name, std::function<check_result()> check,
                 criticality c = criticality::critical);

  /// Sets whether the application is ready for traffic (true until set).
  void set_ready(bool ready) noexcept {
    // Ordering: a lone flag; readers need no other memory from the writer.
    ready_.store(ready, std::memory_order_relaxed);
  }
  /// Whether the application is ready for traffic, as last set.
  bool ready() const noexcept {
    // Ordering: as in set_ready().
    return ready_.load(std::memory_order_relaxed);
  }

  /// Runs every check: GET /health.
  report check() const;

  /// Liveness: the process answers, so it is alive. GET /health/live.
  report live() const;

  /// Readiness: the flag is set and no critical component is unhealthy.
  /// GET /health/ready.
  report readiness() const;

 private:
  struct entry {
    std::string name;
    // Shared so a probe can run its copy of the list outside the lock.
    std::shared_ptr<std::function<check_result()>> check;
    criticality crit;
  };

  static health_status combine(health_status overall, health_status component, criticality c) noexcept;

  mutable std::mutex mutex_;
  std::vector<entry> checks_;
  std::atomic<bool> ready_{true};
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

}  // namespace http
OBS_NAMESPACE_END

#if OBS_HEADER_ONLY
#include "obs/http/health-inl.hpp"
#endif
