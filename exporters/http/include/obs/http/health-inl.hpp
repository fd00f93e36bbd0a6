// Definitions of obs/http/health.hpp: running the checks and writing the
// probes' JSON bodies.
#pragma once

#include <chrono>
#include <cstddef>
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
#include "obs/http/health.hpp"

OBS_NAMESPACE_BEGIN
namespace http {

namespace detail {

OBS_INLINE void append_json_string(std::string& out, std::string_view s) {
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

OBS_INLINE std::string rfc3339_now() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return std::string(buf, n);
}

}  // namespace detail

OBS_INLINE void health::add_check(std::string name, std::function<check_result()> check, criticality c) {
  std::lock_guard lock(mutex_);
  checks_.push_back({std::move(name), std::make_shared<std::function<check_result()>>(std::move(check)), c});
}

OBS_INLINE health::report health::check() const {
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

OBS_INLINE health::report health::live() const {
  return {true, health_status::healthy,
          "{\"status\":\"alive\",\"timestamp\":\"" + detail::rfc3339_now() + "\"}"};
}

OBS_INLINE health::report health::readiness() const {
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

OBS_INLINE health_status health::combine(health_status overall, health_status component, criticality c) noexcept {
  if (component == health_status::unhealthy && c == criticality::critical)
    return health_status::unhealthy;
  if (component != health_status::healthy && overall == health_status::healthy)
    return health_status::degraded;
  return overall;
}

}  // namespace http
OBS_NAMESPACE_END
