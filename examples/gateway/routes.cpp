#include "routes.hpp"

namespace gateway {

route_table::route_table()
    : routes_{{route_id::websocket, http_routes::route_template("/ws")},
              {route_id::room_messages, http_routes::route_template("/rooms/{room}/messages")},
              {route_id::attachments, http_routes::route_template("/attachments")},
              {route_id::attachment, http_routes::route_template("/attachments/{key}")}} {}

std::optional<route_match> route_table::match(std::string_view target) const {
  const auto segments = http_routes::split_path(http_routes::path_of(target));
  route_match m;
  for (const entry& r : routes_) {
    if (r.pattern.match(segments, m.params) != http_routes::route_template::outcome::matched) continue;
    m.id = r.id;
    m.route_template = r.pattern.pattern();
    return m;
  }
  return std::nullopt;
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
      return http_routes::percent_decode(raw);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

}  // namespace gateway
