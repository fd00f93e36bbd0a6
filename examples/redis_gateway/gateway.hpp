// redis_gateway::gateway: answers the API — authentication, per-key rate
// limiting, the Redis command routes and the /api tenant routes. It sees
// requests as plain strings, so it compiles without Asio; server.cpp does the
// HTTP, and redis_pipeline runs the commands.
//
// A Redis route is answered in two halves, so that no thread waits for the
// command in between: admit() authenticates, rate-limits and checks the
// request from memory (no Redis, no PostgreSQL); the command then runs on
// the I/O thread's redis_pipeline, and finish() turns its result into the
// reply. The /api routes query PostgreSQL, so handle() runs them on a worker.
//
// What reaches a client never names an internal address: an upstream's
// failure is answered with a plain message, and its detail goes to the log
// (and is counted by the upstream's error metric).
//
//   admission a = g.admit(m, req);  // when gateway::is_redis(m)
//   if (a.call) reply = gateway::finish(co_await pipes.async_execute(a.call->instance, ...));
//
//   http_reply r = g.handle(g.match("GET", "/api/organizations"), req);  // anything else
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "config.hpp"
#include "health_checks.hpp"
#include "rate_limiter.hpp"
#include "redis_reply.hpp"
#include "router.hpp"
#include "tenants.hpp"

namespace redis_gateway {

/// The parts of a request the gateway reads.
struct http_request_view {
  std::string_view method;
  std::string_view target;         ///< path and query, as received
  std::string_view authorization;  ///< the Authorization header, or empty
  std::string_view body;
  std::string_view encoding;  ///< the Upstash-Encoding header, or empty
  std::chrono::steady_clock::time_point arrived;  ///< when it was read: the rate limiter's now
  std::string_view traceparent;  ///< the traceparent header, for the duration's exemplar, or empty
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
  redis_instance_ptr instance;
  std::vector<std::string> argv;  ///< the command and its arguments
  /// `argv[0]` as the `command` label, a view of the route table or of the
  /// command list: static storage, as redis_pipeline::async_execute wants.
  std::string_view command;
  reply_encoding encoding = reply_encoding::text;
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
  gateway(const config& cfg, tenants& t, rate_limiter& limiter, health_checks& checks);
  ~gateway();
  gateway(const gateway&) = delete;
  gateway& operator=(const gateway&) = delete;

  /// The route of `target` (query ignored) for `method`.
  route_match match(std::string_view method, std::string_view target) const;

  /// Whether `m` is a Redis command route (path or JSON body).
  static bool is_redis(const route_match& m) noexcept;
  /// Whether `m` is an /api route, whose answer may query PostgreSQL.
  static bool is_api(const route_match& m) noexcept;

  /// Answers a request whose route is neither a Redis route nor metrics nor
  /// health: an /api route (which may block on PostgreSQL), or the refusal
  /// of one that matched none (which never blocks).
  http_reply handle(const route_match& m, const http_request_view& req);

  /// The first half of a Redis route (is_redis(m)): never blocks.
  admission admit(const route_match& m, const http_request_view& req);
  /// The reply to a command's result.
  static http_reply finish(const redis_result& r);

  /// Starts the maintenance thread: every HEALTH_CHECK_INTERVAL it PINGs each
  /// instance (logging those that fail) and sweeps idle rate-limiter state.
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
  admission check(const std::string& instance, std::optional<std::int64_t> org, std::vector<std::string> argv,
                  std::string_view command, reply_encoding encoding) const;
  void maintain();

  const config& cfg_;
  tenants& tenants_;
  rate_limiter& limiter_;
  health_checks& checks_;
  router router_;
  std::jthread maintenance_;
  std::mutex wake_mutex_;
  std::condition_variable_any wake_;
};

/// The token of `Authorization: Bearer <token>` (scheme case-insensitive),
/// else of `?_token=` in `target`, percent-decoded into `decoded`, else empty.
std::string_view bearer_token(std::string_view authorization, std::string_view target, std::string& decoded);

}  // namespace redis_gateway
