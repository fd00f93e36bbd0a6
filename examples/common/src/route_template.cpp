#include "http_routes/route_template.hpp"

#include <utility>

namespace http_routes {
namespace {

bool is_placeholder(std::string_view segment) noexcept {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string_view path_of(std::string_view target) noexcept { return target.substr(0, target.find('?')); }

path_segments split_path(std::string_view path) {
  path_segments out;
  if (path.empty() || path.front() != '/') return out;
  path.remove_prefix(1);
  for (;;) {
    const auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) return out;
    path.remove_prefix(slash + 1);
  }
}

std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    const int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

route_template::route_template(std::string_view pattern) : pattern_(pattern), segments_(split_path(pattern)) {}

route_template::outcome route_template::match(std::span<const std::string_view> segments,
                                              route_params& params) const {
  params.clear();
  if (segments.size() != segments_.size()) return outcome::no_match;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const bool fits = is_placeholder(segments_[i]) ? !segments[i].empty() : segments_[i] == segments[i];
    if (!fits) return outcome::no_match;
  }
  for (std::size_t i = 0; i < segments.size(); ++i) {
    if (!is_placeholder(segments_[i])) continue;
    auto value = percent_decode(segments[i]);
    if (!value) {
      params.clear();
      return outcome::bad_escape;
    }
    params.push_back(std::move(*value));
  }
  return outcome::matched;
}

}  // namespace http_routes
