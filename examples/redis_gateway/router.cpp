#include "router.hpp"

#include <array>

namespace redis_gateway {
namespace {

// Splits "/a/b/c" into {"a","b","c"}; an empty path has no segments. A
// trailing slash yields an empty last segment, which matches no template.
std::vector<std::string_view> split(std::string_view path) {
  std::vector<std::string_view> out;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  if (path.empty()) return out;
  for (;;) {
    auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

bool is_placeholder(std::string_view seg) { return seg.size() > 2 && seg.front() == '{' && seg.back() == '}'; }

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

std::string_view method_label(std::string_view method) noexcept {
  static constexpr std::array<std::string_view, 7> known{"GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS"};
  for (auto m : known)
    if (m == method) return m;
  return "OTHER";
}

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
  for (const auto& r : routes_) segments_.push_back(split(r.path));
}

route_match router::match(std::string_view method, std::string_view path) const {
  route_match m;
  const auto segs = split(path);
  std::vector<std::string_view> raw;
  for (std::size_t n = 0; n < routes_.size(); ++n) {
    const route& r = routes_[n];
    const auto& tmpl = segments_[n];
    if (tmpl.size() != segs.size()) continue;
    raw.clear();
    bool same = true;
    for (std::size_t i = 0; i < tmpl.size() && same; ++i) {
      if (is_placeholder(tmpl[i]))
        same = !segs[i].empty(), raw.push_back(segs[i]);
      else
        same = tmpl[i] == segs[i];
    }
    if (!same) continue;
    if (r.method != method) {
      if (m.result != route_match::outcome::wrong_method) m.result = route_match::outcome::wrong_method, m.route = &r;
      m.allow += m.allow.empty() ? "" : ", ";
      m.allow += r.method;
      continue;
    }
    m.params.clear();
    for (auto s : raw) {
      auto decoded = percent_decode(s);
      if (!decoded) return route_match{route_match::outcome::bad_path, &r, {}, {}};
      m.params.push_back(std::move(*decoded));
    }
    m.result = route_match::outcome::found;
    m.route = &r;
    m.allow.clear();
    return m;
  }
  return m;
}

}  // namespace redis_gateway
