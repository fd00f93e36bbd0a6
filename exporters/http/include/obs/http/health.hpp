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
#include <cstdint>
#include <ctime>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "obs/detail/config.hpp"
#include "obs/detail/utf8.hpp"

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
inline void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      if (const std::size_t n = obs::detail::utf8_sequence_length(s, i)) {
        out.append(s.substr(i, n));
        i += n;
      } else {
        out += "\xef\xbf\xbd";
        ++i;
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  out += '"';
}

/// `2025-11-24T10:30:00Z`: RFC 3339 UTC with whole seconds.
inline std::string rfc3339_now() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return std::string(buf, n);
}

}  // namespace detail

/// Health checks, a readiness flag, and the probe bodies built from them.
class health {
 public:
  /// A probe's outcome: whether it passed (200) or not (503), and its JSON.
  struct report {
    bool ok = true;
    health_status status = health_status::healthy;
    std::string body;
  };

  health() = default;
  health(const health&) = delete;
  health& operator=(const health&) = delete;

  /// Registers a check run on every GET /health (and /health/ready). A check
  /// that throws counts as unhealthy, with the exception's message.
  void add_check(std::string name, std::function<check_result()> check,
                 criticality c = criticality::critical) {
    std::lock_guard lock(mutex_);
    checks_.push_back({std::move(name), std::make_shared<std::function<check_result()>>(std::move(check)), c});
  }

  /// Sets whether the application is ready for traffic (true until set).
  void set_ready(bool ready) noexcept {
    // Ordering: a lone flag; readers need no other memory from the writer.
    ready_.store(ready, std::memory_order_relaxed);
  }
  bool ready() const noexcept { return ready_.load(std::memory_order_relaxed); }

  /// Runs every check: GET /health.
  report check() const {
    std::vector<entry> checks;
    {
      std::lock_guard lock(mutex_);
      checks = checks_;
    }
    health_status overall = health_status::healthy;
    std::string components;
    for (const entry& e : checks) {
      const auto start = std::chrono::steady_clock::now();
      check_result r;
      try {
        r = (*e.check)();
      } catch (const std::exception& ex) {
        r = check_result::unhealthy(ex.what());
      } catch (...) {
        r = check_result::unhealthy("check threw a non-standard exception");
      }
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - start);
      overall = combine(overall, r.status, e.crit);
      if (!components.empty()) components += ',';
      detail::append_json_string(components, e.name);
      components += ":{\"status\":\"";
      components += to_string(r.status);
      components += "\",\"message\":";
      detail::append_json_string(components, r.message);
      components += ",\"response_time_ms\":";
      components += std::to_string(ms.count());
      components += '}';
    }
    report out;
    out.status = overall;
    out.ok = overall != health_status::unhealthy;
    out.body = "{\"status\":\"";
    out.body += to_string(overall);
    out.body += "\",\"timestamp\":\"" + detail::rfc3339_now() + "\",\"uptime_seconds\":";
    out.body += std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                   std::chrono::steady_clock::now() - started_)
                                   .count());
    out.body += ",\"components\":{" + components + "}}";
    return out;
  }

  /// Liveness: the process answers, so it is alive. GET /health/live.
  report live() const {
    return {true, health_status::healthy,
            "{\"status\":\"alive\",\"timestamp\":\"" + detail::rfc3339_now() + "\"}"};
  }

  /// Readiness: the flag is set and no critical component is unhealthy.
  /// GET /health/ready.
  report readiness() const {
    std::string reason;
    if (!ready()) reason = "not ready";
    else if (!check().ok) reason = "unhealthy";
    report out;
    out.ok = reason.empty();
    out.status = out.ok ? health_status::healthy : health_status::unhealthy;
    out.body = out.ok ? "{\"status\":\"ready\"" : "{\"status\":\"not_ready\"";
    out.body += ",\"timestamp\":\"" + detail::rfc3339_now() + "\"";
    if (!out.ok) out.body += ",\"reason\":\"" + reason + "\"";
    out.body += '}';
    return out;
  }

 private:
  struct entry {
    std::string name;
    // Shared so a probe can run its copy of the list outside the lock.
    std::shared_ptr<std::function<check_result()>> check;
    criticality crit;
  };

  static health_status combine(health_status overall, health_status component, criticality c) {
    if (component == health_status::unhealthy && c == criticality::critical)
      return health_status::unhealthy;
    if (component != health_status::healthy && overall == health_status::healthy)
      return health_status::degraded;
    return overall;
  }

  mutable std::mutex mutex_;
  std::vector<entry> checks_;
  std::atomic<bool> ready_{true};
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

}  // namespace http
OBS_NAMESPACE_END
