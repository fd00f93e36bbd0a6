// gateway::route_table: matches a request path against the public API's
// route templates ("/rooms/{room}/messages"), so that metrics are labelled by
// template and every path that matches none collapses to "unmatched". Pure.
// The matching itself is http_routes::route_template's (examples/common).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http_routes/route_template.hpp"

namespace gateway {

/// The public API's routes.
enum class route_id { websocket, room_messages, attachments, attachment };

/// A matched route: which one, its template (the `route` label) and the
/// values of its `{placeholders}`, in order.
struct route_match {
  route_id id;
  std::string_view route_template;
  http_routes::route_params params;
};

/// The `route` label of a request no template matches.
inline constexpr std::string_view unmatched_route = http_routes::unmatched;

/// Route templates and the matcher. A placeholder matches one non-empty path
/// segment; a trailing slash or empty segment matches nothing.
class route_table {
 public:
  /// The gateway's routes.
  route_table();

  /// The route `target` (a request target; a query string is ignored) names,
  /// or nullopt. Placeholder values are percent-decoded; a malformed escape
  /// matches nothing.
  std::optional<route_match> match(std::string_view target) const;

 private:
  struct entry {
    route_id id;
    http_routes::route_template pattern;
  };
  std::vector<entry> routes_;
};

/// The value of query parameter `name` in `target` ("/x?a=1&b=2"), decoded
/// (`+` as a space).
std::optional<std::string> query_param(std::string_view target, std::string_view name);

}  // namespace gateway
