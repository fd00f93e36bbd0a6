#include "gateway.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "metrics.hpp"

namespace redis_gateway {
namespace {

using json = nlohmann::json;

// Commands POST /redis/{instance} accepts: the path routes' and a few more.
// A fixed list keeps the `command` label bounded and keeps administrative
// commands (CONFIG, FLUSHALL, KEYS, ...) out of tenants' reach.
constexpr std::array<std::string_view, 33> allowed_commands{
    "PING",    "GET",    "SET",      "DEL",   "INCR",   "INCRBY", "DECR",  "DECRBY", "EXPIRE", "TTL",   "PERSIST",
    "EXISTS",  "TYPE",   "STRLEN",   "APPEND", "MGET",  "MSET",   "HGET",  "HSET",   "HDEL",   "HGETALL", "HLEN",
    "LPUSH",   "RPUSH",  "LPOP",     "RPOP",  "LRANGE", "LLEN",   "SADD",  "SREM",   "SMEMBERS", "SISMEMBER", "SCARD"};

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// {"result":VALUE}, written around VALUE's dump rather than copying VALUE into an object first.
http_reply result(unsigned status, const json& value) {
  return {status, R"({"result":)" + dump(value) + "}", {}, {}, false};
}
http_reply error(unsigned status, std::string_view message) {
  return {status, dump(json{{"error", std::string(message)}}), {}, {}, false};
}

bool same_token(std::string_view a, std::string_view b) {
  // Constant time in the token's content, so timing reveals no prefix.
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::optional<std::int64_t> parse_id(const std::string& s) {
  if (s.empty() || s.size() > 18 || !std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); }))
    return std::nullopt;
  return std::stoll(s);
}

bool valid_instance_name(const std::string& s) {
  return !s.empty() && s.size() <= 64 &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isalnum(c) || c == '-' || c == '_'; });
}

// PostgreSQL's message names the server and the schema: the client gets a
// plain one, the log the detail, and database_query_errors_total counted it.
http_reply database_failure(const database_error& e) {
  if (e.rejected && e.sqlstate == "23505") return error(409, "already exists");
  if (e.rejected && e.sqlstate == "23503") return error(404, "unknown organization");
  std::fprintf(stderr, "redis_gateway: /api: PostgreSQL: %s\n", e.what());
  if (!e.rejected) return error(503, "database unavailable");
  return error(400, "rejected by the database");
}

// Whether `s` begins with `lower`, which is lower case, ignoring the case of ASCII letters.
bool starts_with_ignoring_case(std::string_view s, std::string_view lower) {
  return s.size() >= lower.size() && std::equal(lower.begin(), lower.end(), s.begin(), [](char l, char c) {
           return std::tolower(static_cast<unsigned char>(c)) == l;
         });
}

bool is_base64(std::string_view encoding) {
  return encoding.size() == 6 && starts_with_ignoring_case(encoding, "base64");
}

json org_json(const organization& o) { return {{"id", o.id}, {"name", o.name}}; }

}  // namespace

std::string_view bearer_token(std::string_view authorization, std::string_view target, std::string& decoded) {
  if (authorization.size() > 7 && starts_with_ignoring_case(authorization, "bearer ")) return authorization.substr(7);
  auto q = target.find('?');
  if (q == std::string_view::npos) return {};
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    if (pair.starts_with("_token=")) return decoded = http_routes::percent_decode(pair.substr(7)).value_or("");
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

gateway::gateway(const config& cfg, tenants& t, rate_limiter& limiter, health_checks& checks)
    : cfg_(cfg), tenants_(t), limiter_(limiter), checks_(checks) {}

gateway::~gateway() {
  if (maintenance_.joinable()) {
    maintenance_.request_stop();
    wake_.notify_all();
  }
}

route_match gateway::match(std::string_view method, std::string_view target) const {
  return router_.match(method, http_routes::path_of(target));
}

bool gateway::is_redis(const route_match& m) noexcept {
  return m.found() && (m.route->id == route_id::redis_path || m.route->id == route_id::redis_command);
}

bool gateway::is_api(const route_match& m) noexcept {
  if (!m.found()) return false;
  switch (m.route->id) {
    case route_id::orgs:
    case route_id::org:
    case route_id::org_keys:
    case route_id::org_key:
    case route_id::org_instances:
    case route_id::org_instance:
    case route_id::org_users:
      return true;
    default:
      return false;
  }
}

gateway::caller gateway::authorize(const route_match& m, const http_request_view& req) {
  if (m.result == route_match::outcome::not_found) return {{}, error(404, "not found")};
  if (m.result == route_match::outcome::bad_path) return {{}, error(400, "bad percent-encoding in path")};
  if (m.result == route_match::outcome::wrong_method) {
    http_reply r = error(405, "method not allowed");
    r.allow = m.allow;
    return {{}, std::move(r)};
  }

  std::string decoded;
  const std::string_view token = bearer_token(req.authorization, req.target, decoded);
  std::optional<std::int64_t> org;  // nullopt: the admin
  std::optional<std::uint32_t> quota;
  std::int64_t key_id = 0;
  if (token.empty() || !same_token(token, cfg_.admin_token)) {
    auto key = token.empty() ? std::nullopt : tenants_.find_key(token);
    if (!key) {
      metrics.api_key_auth_failures.increment();
      http_reply r = error(401, token.empty() ? "missing API key" : "invalid API key");
      r.authenticate = true;
      return {{}, std::move(r)};
    }
    metrics.api_key_requests.increment();
    org = key->organization_id;
    quota = key->rate_limit_rps;
    key_id = key->id;
  }
  // The admin token has one bucket of the default quota, like any key.
  if (auto d = limiter_.check(org ? token : std::string_view("\0admin", 6), quota, req.arrived); !d.allowed) {
    if (org) metrics.api_key_rate_limited.with(std::to_string(key_id)).increment();
    http_reply r = error(429, "rate limit exceeded");
    r.retry_after = retry_after_seconds(d.retry_after);
    return {{}, std::move(r)};
  }
  return {org, std::nullopt};
}

http_reply gateway::handle(const route_match& m, const http_request_view& req) {
  caller c = authorize(m, req);
  if (c.refusal) return std::move(*c.refusal);
  return api_route(m, req, c.org);
}

admission gateway::admit(const route_match& m, const http_request_view& req) {
  caller c = authorize(m, req);
  if (c.refusal) return {std::nullopt, std::move(*c.refusal)};
  return redis_route(m, req, c.org);
}

// Why a command failed is in the log already, once per event (a connect
// attempt, a connection lost or silent) rather than once per command, and
// redis_command_errors_total counted it.
http_reply gateway::finish(const redis_result& r) {
  switch (r.result) {
    case redis_result::outcome::ok:
      return result(200, r.value);
    case redis_result::outcome::redis_error:
      return error(400, r.error);
    case redis_result::outcome::unavailable:
      break;
  }
  return error(503, "redis unavailable");
}

admission gateway::check(const std::string& instance, std::optional<std::int64_t> org, std::vector<std::string> argv,
                         std::string_view command, reply_encoding encoding) const {
  // An instance of another organization answers as one that does not exist.
  auto found = tenants_.find_instance(instance);
  if (!found || (org && found->organization_id != *org)) return {std::nullopt, error(404, "unknown instance")};
  if (argv.size() > 1 && argv[1].size() > cfg_.max_key_bytes)
    return {std::nullopt, error(413, "key longer than " + std::to_string(cfg_.max_key_bytes) + " bytes")};
  for (std::size_t i = 2; i < argv.size(); ++i)
    if (argv[i].size() > cfg_.max_value_bytes)
      return {std::nullopt, error(413, "value longer than " + std::to_string(cfg_.max_value_bytes) + " bytes")};
  return {redis_call{std::move(found->instance), std::move(argv), command, encoding}, {}};
}

admission gateway::redis_route(const route_match& m, const http_request_view& req, std::optional<std::int64_t> org) {
  const std::string& instance = m.params.at(0);
  const reply_encoding encoding = is_base64(req.encoding) ? reply_encoding::base64 : reply_encoding::text;
  if (m.route->id == route_id::redis_path) {
    std::vector<std::string> argv;
    argv.reserve(m.params.size());
    argv.emplace_back(m.route->command);
    argv.insert(argv.end(), m.params.begin() + 1, m.params.end());
    return check(instance, org, std::move(argv), m.route->command, encoding);
  }
  json body = json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_array() || body.empty() || !body[0].is_string())
    return {std::nullopt,
            error(400, R"(body must be a JSON array of a command and its arguments, e.g. ["SET","k","v"])")};
  std::vector<std::string> argv;
  for (const auto& a : body) {
    if (a.is_string())
      argv.push_back(a.get<std::string>());
    else if (a.is_number())
      argv.push_back(a.dump());
    else
      return {std::nullopt, error(400, "arguments must be strings or numbers")};
  }
  std::transform(argv[0].begin(), argv[0].end(), argv[0].begin(), [](unsigned char c) { return std::toupper(c); });
  const auto command = std::find(allowed_commands.begin(), allowed_commands.end(), argv[0]);
  if (command == allowed_commands.end()) return {std::nullopt, error(400, "unsupported command")};
  return check(instance, org, std::move(argv), *command, encoding);
}

http_reply gateway::api_route(const route_match& m, const http_request_view& req, std::optional<std::int64_t> org) {
  const bool admin = !org;
  const bool reading = m.route->method == "GET";
  if (m.route->id == route_id::orgs && reading) {
    json list = json::array();
    for (const auto& o : tenants_.organizations())
      if (admin || o.id == *org) list.push_back(org_json(o));
    return result(200, list);
  }
  json body;
  if (m.route->method == "POST") {
    body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) return error(400, "body must be a JSON object");
  }
  try {
    if (m.route->id == route_id::orgs) {
      if (!admin) return error(403, "needs the admin token");
      if (!body.contains("name") || !body["name"].is_string() || body["name"].get<std::string>().empty())
        return error(400, R"(expected {"name": "..."})");
      return result(201, org_json(tenants_.create_organization(body["name"].get<std::string>())));
    }
    auto id = parse_id(m.params.at(0));
    auto o = id ? tenants_.find_organization(*id) : std::nullopt;
    // Keys see their own organization only; others do not exist for them.
    if (!o || (!admin && o->id != *org)) return error(404, "unknown organization");
    if (!admin && !(reading && (m.route->id == route_id::org || m.route->id == route_id::org_instances)))
      return error(403, "needs the admin token");

    switch (m.route->id) {
      case route_id::org:
        if (reading) return result(200, org_json(*o));
        if (auto keys = tenants_.delete_organization(o->id)) {
          for (const auto& [key, info] : *keys) {
            limiter_.remove(key);
            forget_api_key(info.id);
          }
          return result(200, "deleted");
        }
        return error(404, "unknown organization");
      case route_id::org_keys: {
        if (reading) {
          json list = json::array();
          for (const auto& [k, info] : tenants_.keys_of(o->id))
            list.push_back({{"key", k},
                            {"id", info.id},
                            {"rate_limit_rps", info.rate_limit_rps ? json(*info.rate_limit_rps) : json()}});
          return result(200, list);
        }
        std::optional<std::uint32_t> rps;
        if (body.contains("rate_limit_rps") && !body["rate_limit_rps"].is_null()) {
          const auto& v = body["rate_limit_rps"];
          if (!v.is_number_unsigned() || v.get<std::uint64_t>() < 1 || v.get<std::uint64_t>() > 1'000'000'000)
            return error(400, "rate_limit_rps must be an integer from 1 to 1000000000");
          rps = v.get<std::uint32_t>();
        }
        const auto [key, info] = tenants_.create_key(o->id, rps);
        return result(201, {{"key", key}, {"id", info.id}, {"rate_limit_rps", rps ? json(*rps) : json()}});
      }
      case route_id::org_key: {
        auto removed = tenants_.delete_key(o->id, m.params.at(1));
        if (!removed) return error(404, "unknown API key");
        limiter_.remove(m.params.at(1));
        forget_api_key(removed->id);
        return result(200, "deleted");
      }
      case route_id::org_instances: {
        if (reading) {
          json list = json::array();
          for (const auto& i : tenants_.instances_of(o->id))
            list.push_back({{"name", i->name}, {"host", i->host}, {"port", i->port}});
          return result(200, list);
        }
        redis_instance inst;
        if (!body.contains("name") || !body["name"].is_string() || !valid_instance_name(body["name"].get<std::string>()))
          return error(400, "name must be 1 to 64 letters, digits, '-' or '_'");
        inst.name = body["name"].get<std::string>();
        inst.host = body.value("host", std::string("127.0.0.1"));
        const auto port = body.value("port", 6379);
        if (port < 1 || port > 65535) return error(400, "port must be from 1 to 65535");
        inst.port = static_cast<std::uint16_t>(port);
        inst.password = body.value("password", std::string());
        const auto created = tenants_.create_instance(o->id, std::move(inst));
        return result(201, {{"name", created->name}, {"host", created->host}, {"port", created->port}});
      }
      case route_id::org_instance:
        if (!tenants_.delete_instance(o->id, m.params.at(1))) return error(404, "unknown instance");
        return result(200, "deleted");
      case route_id::org_users: {
        if (reading) {
          json list = json::array();
          for (const auto& u : tenants_.users_of(o->id)) list.push_back({{"id", u.id}, {"email", u.email}});
          return result(200, list);
        }
        if (!body.contains("email") || !body["email"].is_string() || body["email"].get<std::string>().empty())
          return error(400, R"(expected {"email": "..."})");
        const user u = tenants_.create_user(o->id, body["email"].get<std::string>());
        return result(201, {{"id", u.id}, {"email", u.email}});
      }
      default:
        return error(404, "not found");
    }
  } catch (const database_error& e) {
    return database_failure(e);
  } catch (const json::exception&) {
    return error(400, "a field of the body has the wrong type");
  }
}

void gateway::start_maintenance() {
  maintenance_ = std::jthread([this](std::stop_token stop) {
    std::unique_lock lock(wake_mutex_);
    for (;;) {
      // Returns early only when stop is requested.
      wake_.wait_for(lock, stop, cfg_.health_check_interval, [] { return false; });
      if (stop.stop_requested()) return;
      lock.unlock();
      maintain();
      lock.lock();
    }
  });
}

void gateway::maintain() {
  limiter_.sweep();
  checks_.check_redis();  // logs each instance that fails
}

}  // namespace redis_gateway
