// redis_gateway::router: maps a request's method and path to one of the
// gateway's route templates and the values of its `{placeholders}`.
//
// The template, never the raw path, is what the `path` metric label carries,
// so keys and instance names never reach a label; a path no template matches
// is "unmatched". The matching itself is http_routes::route_template's
// (examples/common); this adds methods (405 with Allow) and the route table.
//
//   router r;
//   auto m = r.match("GET", "/redis/cache/get/user%3A1");
//   // m.found(): m.route->command == "GET", m.params == {"cache", "user:1"}
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "http_routes/route_template.hpp"

namespace redis_gateway {

/// Every route the gateway answers.
enum class route_id {
  metrics,
  health,
  health_live,
  health_ready,
  redis_command,  // POST /redis/{instance} with a JSON array body
  redis_path,     // GET/POST /redis/{instance}/<command>/...: one template per command
  orgs,
  org,
  org_keys,
  org_key,
  org_instances,
  org_instance,
  org_users,
};

/// One route template and the methods it answers.
struct route {
  route_id id;
  std::string_view method;    ///< "GET", "POST" or "DELETE"
  std::string_view path;      ///< the template, e.g. "/redis/{instance}/get/{key}"
  std::string_view command;   ///< the Redis command of a redis_path route ("GET"), else empty
};

/// What match() found.
struct route_match {
  enum class outcome { found, wrong_method, not_found, bad_path };
  outcome result = outcome::not_found;
  const redis_gateway::route* route = nullptr;  ///< the matched template (also for wrong_method)
  http_routes::route_params params;  ///< percent-decoded placeholder values, in order
  std::string allow;                ///< for wrong_method: the methods the path answers
  bool found() const noexcept { return result == outcome::found; }
};

/// The gateway's route table. Immutable after construction: thread-safe.
class router {
 public:
  router();

  /// Matches `path` (no query string) for `method`; HEAD matches the GET
  /// routes. A path whose segments are not valid percent-encoding is bad_path.
  route_match match(std::string_view method, std::string_view path) const;

  /// Every route, in table order.
  const std::vector<route>& routes() const noexcept { return routes_; }

 private:
  std::vector<route> routes_;
  std::vector<http_routes::route_template> templates_;  // routes_[i]'s, split once
};

}  // namespace redis_gateway
