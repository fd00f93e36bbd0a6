// redis_gateway::gateway: answers the API — authentication, per-key rate
// limiting, the Redis command routes and the /api tenant routes — and the
// health checks behind /health. It sees requests as plain strings, so it
// compiles without Asio; server.cpp does the HTTP.
//
// A Redis route can also be answered in two halves, so that the command in
// between need not block a thread: admit() authenticates, rate-limits and
// checks the request from memory (no Redis, no PostgreSQL); the command then
// runs pipelined (redis_pipeline, whose result finish() turns into the
// reply) or on the blocking pool (execute()).
//
//   gateway g(cfg, db, pool, tenants, limiter);
//   http_reply r = g.handle(g.match("GET", "/redis/cache/get/k"), req);
//
//   admission a = g.admit(m, req);  // when gateway::is_redis(m)
//   http_reply r = a.call ? g.execute(*a.call) : a.reply;
#pragma once

#include <condition_variable>
#include <mutex>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <obs/http/health.hpp>

#include "config.hpp"
#include "database.hpp"
#include "rate_limiter.hpp"
#include "redis_pool.hpp"
#include "router.hpp"
#include "tenants.hpp"

namespace redis_gateway {

/// The parts of a request the gateway reads.
struct http_request_view {
  std::string_view method;
  std::string_view target;         ///< path and query, as received
  std::string_view authorization;  ///< the Authorization header, or empty
  std::string_view body;
};

/// What to answer.
struct http_reply {
  unsigned status = 200;
  std::string body;                          ///< JSON
  std::optional<std::uint64_t> retry_after;  ///< seconds, for 429
  std::string allow;                         ///< for 405
  bool authenticate = false;                 ///< add WWW-Authenticate (401)
};

/// A Redis command a request asks for, authenticated, within its rate limit
/// and checked.
struct redis_call {
  std::string instance;
  std::vector<std::string> argv;  ///< the command and its arguments
};

/// What admit() decided: run `call` and answer with finish(), or, without
/// one, answer `reply` now.
struct admission {
  std::optional<redis_call> call;
  http_reply reply;
};

/// See the header comment.
class gateway {
 public:
  /// Keeps every argument by reference.
  gateway(const config& cfg, database& db, redis_pool& pool, tenants& t, rate_limiter& limiter);
  ~gateway();
  gateway(const gateway&) = delete;
  gateway& operator=(const gateway&) = delete;

  /// The route of `target` (query ignored) for `method`.
  route_match match(std::string_view method, std::string_view target) const;

  /// Whether `m` is a Redis command route (path or JSON body).
  static bool is_redis(const route_match& m) noexcept;

  /// Answers a request whose route is not metrics or health; a Redis route
  /// runs its command on the blocking pool.
  http_reply handle(const route_match& m, const http_request_view& req);

  /// The first half of a Redis route (is_redis(m)): never blocks.
  admission admit(const route_match& m, const http_request_view& req);
  /// The reply to a command's result.
  static http_reply finish(const redis_result& r);
  /// Runs an admitted command on the blocking pool (which connects, with the
  /// retry loop, when it has no idle connection) and answers.
  http_reply execute(const redis_call& call);

  /// The `database` health component: SELECT 1.
  obs::http::check_result check_database();
  /// The `redis_pool` component: a PING per instance; degraded when some are
  /// unreachable, unhealthy when all are.
  obs::http::check_result check_redis();

  /// Starts the maintenance thread: every HEALTH_CHECK_INTERVAL it PINGs each
  /// instance, reconnects (with the retry loop) those that fail, and sweeps
  /// idle rate-limiter state.
  void start_maintenance();

  /// The route table (for the README and tests).
  const router& routes() const noexcept { return router_; }

 private:
  // The caller: nullopt org is the admin. Or the refusal (404, 400, 405,
  // 401, 429) that answers the request instead.
  struct caller {
    std::optional<std::int64_t> org;
    std::optional<http_reply> refusal;
  };
  caller authorize(const route_match& m, const http_request_view& req);
  admission redis_route(const route_match& m, const http_request_view& req, std::optional<std::int64_t> org);
  http_reply api_route(const route_match& m, const http_request_view& req, std::optional<std::int64_t> org);
  admission check(std::string instance, std::optional<std::int64_t> org, std::vector<std::string> argv) const;
  void maintain();

  const config& cfg_;
  database& db_;
  redis_pool& pool_;
  tenants& tenants_;
  rate_limiter& limiter_;
  router router_;
  std::jthread maintenance_;
  std::mutex wake_mutex_;
  std::condition_variable_any wake_;
};

/// The token of `Authorization: Bearer <token>` (scheme case-insensitive),
/// else of `?_token=` in `target`, else empty.
std::string bearer_token(std::string_view authorization, std::string_view target);

}  // namespace redis_gateway
