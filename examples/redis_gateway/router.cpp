#include "router.hpp"

namespace redis_gateway {

router::router() {
  using enum route_id;
  routes_ = {
      {metrics, "GET", "/metrics", ""},
      {health, "GET", "/health", ""},
      {health_live, "GET", "/health/live", ""},
      {health_ready, "GET", "/health/ready", ""},
      {redis_command, "POST", "/redis/{instance}", ""},
      {redis_path, "GET", "/redis/{instance}/ping", "PING"},
      {redis_path, "GET", "/redis/{instance}/get/{key}", "GET"},
      {redis_path, "GET", "/redis/{instance}/set/{key}/{value}", "SET"},
      {redis_path, "GET", "/redis/{instance}/del/{key}", "DEL"},
      {redis_path, "GET", "/redis/{instance}/incr/{key}", "INCR"},
      {redis_path, "GET", "/redis/{instance}/expire/{key}/{seconds}", "EXPIRE"},
      {redis_path, "GET", "/redis/{instance}/ttl/{key}", "TTL"},
      {redis_path, "GET", "/redis/{instance}/exists/{key}", "EXISTS"},
      {redis_path, "GET", "/redis/{instance}/hget/{key}/{field}", "HGET"},
      {redis_path, "GET", "/redis/{instance}/hset/{key}/{field}/{value}", "HSET"},
      {redis_path, "GET", "/redis/{instance}/lpush/{key}/{value}", "LPUSH"},
      {redis_path, "GET", "/redis/{instance}/lpop/{key}", "LPOP"},
      {redis_path, "GET", "/redis/{instance}/sadd/{key}/{member}", "SADD"},
      {redis_path, "GET", "/redis/{instance}/smembers/{key}", "SMEMBERS"},
      {orgs, "GET", "/api/organizations", ""},
      {orgs, "POST", "/api/organizations", ""},
      {org, "GET", "/api/organizations/{org}", ""},
      {org, "DELETE", "/api/organizations/{org}", ""},
      {org_keys, "GET", "/api/organizations/{org}/api-keys", ""},
      {org_keys, "POST", "/api/organizations/{org}/api-keys", ""},
      {org_key, "DELETE", "/api/organizations/{org}/api-keys/{key}", ""},
      {org_instances, "GET", "/api/organizations/{org}/instances", ""},
      {org_instances, "POST", "/api/organizations/{org}/instances", ""},
      {org_instance, "DELETE", "/api/organizations/{org}/instances/{name}", ""},
      {org_users, "GET", "/api/organizations/{org}/users", ""},
      {org_users, "POST", "/api/organizations/{org}/users", ""},
  };
  for (const auto& r : routes_) templates_.emplace_back(r.path);
}

route_match router::match(std::string_view method, std::string_view path) const {
  using outcome = http_routes::route_template::outcome;
  // HEAD is answered as GET is, without the body (RFC 9110 section 9.3.2).
  const std::string_view wanted = method == "HEAD" ? std::string_view("GET") : method;
  route_match m;
  const auto segments = http_routes::split_path(path);
  for (std::size_t n = 0; n < routes_.size(); ++n) {
    // Into m.params, so that a found route's values are not moved again.
    const outcome fit = templates_[n].match(segments, m.params);
    if (fit == outcome::no_match) continue;
    const route& r = routes_[n];
    if (r.method != wanted) {
      if (m.result != route_match::outcome::wrong_method) m.result = route_match::outcome::wrong_method, m.route = &r;
      m.allow += m.allow.empty() ? "" : ", ";
      m.allow += r.method;
      if (r.method == "GET") m.allow += ", HEAD";
      continue;
    }
    if (fit == outcome::bad_escape) return route_match{route_match::outcome::bad_path, &r, {}, {}};
    m.result = route_match::outcome::found;
    m.route = &r;
    m.allow.clear();
    return m;
  }
  m.params.clear();
  return m;
}

}  // namespace redis_gateway
