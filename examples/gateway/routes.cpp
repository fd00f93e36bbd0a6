#include "routes.hpp"

namespace gateway {
namespace {

// Splits "/a/b/c" into its segments; "/" and "" give none.
std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  if (path.empty() || path.front() != '/') return out;
  path.remove_prefix(1);
  while (true) {
    auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

route_table::route_table()
    : routes_{{route_id::websocket, "/ws"},
              {route_id::room_messages, "/rooms/{room}/messages"},
              {route_id::attachments, "/attachments"},
              {route_id::attachment, "/attachments/{key}"}} {}

std::optional<route_match> route_table::match(std::string_view target) const {
  const std::string_view path = target.substr(0, target.find('?'));
  const std::vector<std::string_view> have = segments(path);
  if (have.empty()) return std::nullopt;
  for (const entry& r : routes_) {
    const std::vector<std::string_view> want = segments(r.pattern);
    if (want.size() != have.size()) continue;
    route_match m{r.id, r.pattern, {}};
    bool ok = true;
    for (std::size_t i = 0; ok && i < want.size(); ++i) {
      if (want[i].starts_with('{')) {
        std::optional<std::string> value = percent_decode(have[i]);
        ok = !have[i].empty() && value && !value->empty();
        if (ok) m.params.push_back(std::move(*value));
      } else {
        ok = want[i] == have[i];
      }
    }
    if (ok) return m;
  }
  return std::nullopt;
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

std::optional<std::string> query_param(std::string_view target, std::string_view name) {
  const auto q = target.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      if (eq == std::string_view::npos) return std::string();
      std::string raw(pair.substr(eq + 1));
      for (char& c : raw)
        if (c == '+') c = ' ';
      return percent_decode(raw);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

}  // namespace gateway
