// obs::http::auth: optional credentials (bearer token or HTTP basic) that a
// request must present, checked in constant time.
//
// Use it to keep a management port that is reachable from more than loopback
// closed to strangers. Missing or wrong credentials get 401 with a
// `WWW-Authenticate` challenge (RFC 9110 section 11.6.1).
//
//   opts.auth = obs::http::auth::bearer(std::getenv("METRICS_TOKEN"));
//   opts.auth = obs::http::auth::basic("prometheus", "s3cret");
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include "obs/detail/config.hpp"
#include "obs/http/detail/ascii.hpp"

OBS_NAMESPACE_BEGIN
namespace http {

namespace detail {

/// Compares two strings in time that depends only on their lengths, so a
/// client cannot learn a secret byte by byte from response times.
inline bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
  // Every byte of the longer string is visited whatever the contents; the
  // length difference is folded in rather than returned early.
  const std::size_t n = a.size() > b.size() ? a.size() : b.size();
  std::size_t diff = a.size() ^ b.size();
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0u;
    const unsigned y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0u;
    diff |= x ^ y;
  }
  return diff == 0;
}

/// Standard base64 with padding (RFC 4648 section 4), for basic credentials.
inline std::string base64(std::string_view in) {
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  // Shifted as unsigned: an unsigned char promotes to int, whose shifted
  // value would change sign on its way into `v`.
  const auto byte = [&](std::size_t k) { return unsigned{static_cast<unsigned char>(in[k])}; };
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    out += alphabet[v >> 18 & 63];
    out += alphabet[v >> 12 & 63];
    out += alphabet[v >> 6 & 63];
    out += alphabet[v & 63];
  }
  if (const std::size_t rest = in.size() - i; rest > 0) {
    unsigned v = byte(i) << 16;
    if (rest == 2) v |= byte(i + 1) << 8;
    out += alphabet[v >> 18 & 63];
    out += alphabet[v >> 12 & 63];
    out += rest == 2 ? alphabet[v >> 6 & 63] : '=';
    out += '=';
  }
  return out;
}

}  // namespace detail

/// Credentials a request must carry in its `Authorization` header.
class auth {
 public:
  /// No credentials required (the default).
  auth() = default;

  /// Requires `Authorization: Bearer <token>` (RFC 6750).
  ///
  ///   opts.auth = obs::http::auth::bearer("s3cret");
  [[nodiscard("assign it to options::auth; on its own it guards nothing")]]
  static auth bearer(std::string_view token) {
    return auth("Bearer", std::string(token), "Bearer realm=\"metrics\"");
  }

  /// Requires `Authorization: Basic base64(user:password)` (RFC 7617).
  ///
  ///   opts.auth = obs::http::auth::basic("prometheus", "s3cret");
  [[nodiscard("assign it to options::auth; on its own it guards nothing")]]
  static auth basic(std::string_view user, std::string_view password) {
    std::string pair(user);
    pair += ':';
    pair += password;
    return auth("Basic", detail::base64(pair), "Basic realm=\"metrics\", charset=\"UTF-8\"");
  }

  /// Whether any credentials are required at all.
  bool enabled() const noexcept { return !scheme_.empty(); }

  /// Whether an `Authorization` header value grants access: the scheme in
  /// any case (RFC 9110 section 11.1), one or more spaces, then exactly the
  /// credentials. Always true when auth is disabled.
  ///
  ///   obs::http::auth::bearer("s3cret").allows("bearer s3cret")   // true
  bool allows(std::string_view authorization) const noexcept {
    if (!enabled()) return true;
    const std::size_t space = authorization.find(' ');
    if (space == std::string_view::npos) return false;
    const std::string_view scheme = authorization.substr(0, space);
    const std::size_t start = authorization.find_first_not_of(' ', space);
    const std::string_view credentials =
        start == std::string_view::npos ? std::string_view{} : authorization.substr(start);
    // The scheme is public (the challenge names it); only the credentials
    // are secret, so only they need the constant-time comparison.
    const bool scheme_matches = detail::iequals(scheme, scheme_);
    return detail::constant_time_equal(credentials, credentials_) && scheme_matches;
  }

  /// The `WWW-Authenticate` value sent with a 401.
  const std::string& challenge() const noexcept { return challenge_; }

 private:
  auth(std::string scheme, std::string credentials, std::string challenge)
      : scheme_(std::move(scheme)), credentials_(std::move(credentials)), challenge_(std::move(challenge)) {}

  std::string scheme_;       // "Bearer" or "Basic"; empty when disabled
  std::string credentials_;  // the token, or base64(user:password)
  std::string challenge_;
};

}  // namespace http
OBS_NAMESPACE_END
