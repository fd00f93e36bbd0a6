// obs::http::detail::iequals: ASCII case-insensitive comparison of HTTP
// tokens (auth schemes, media types, codings, parameter names), which RFC 9110
// makes case-insensitive.
//
// Locale-free on purpose: HTTP tokens are ASCII, and a C locale that folds
// other bytes would let a non-ASCII scheme match.
#pragma once

#include <cstddef>
#include <string_view>

#include "obs/detail/config.hpp"

OBS_NAMESPACE_BEGIN
namespace http::detail {

/// `c` in lower case if it is an ASCII capital letter, else `c`.
constexpr char ascii_lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

/// Whether `a` and `b` are equal, ignoring ASCII case.
///
///   obs::http::detail::iequals("Bearer", "bearer")   // true
constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

}  // namespace http::detail
OBS_NAMESPACE_END
