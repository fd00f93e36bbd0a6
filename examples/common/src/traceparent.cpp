#include "trace_context/traceparent.hpp"

#include <algorithm>

namespace trace_context {
namespace {

bool lower_hex(std::string_view s) noexcept {
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool all_zeros(std::string_view s) noexcept {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == '0'; });
}

}  // namespace

std::optional<std::string_view> trace_id(std::string_view header) noexcept {
  // version "-" trace-id "-" parent-id "-" trace-flags: 2 + 1 + 32 + 1 + 16 + 1 + 2.
  constexpr std::size_t length = 55;
  if (header.size() < length) return std::nullopt;
  const std::string_view version = header.substr(0, 2), id = header.substr(3, 32), parent = header.substr(36, 16),
                         flags = header.substr(53, 2);
  if (header[2] != '-' || header[35] != '-' || header[52] != '-') return std::nullopt;
  if (!lower_hex(version) || version == "ff" || !lower_hex(id) || !lower_hex(parent) || !lower_hex(flags))
    return std::nullopt;
  // Version 00 has exactly these fields; a later one may add fields after a dash.
  if (version == "00" ? header.size() != length : header.size() > length && header[length] != '-')
    return std::nullopt;
  if (all_zeros(id) || all_zeros(parent)) return std::nullopt;
  return id;
}

}  // namespace trace_context
