// redis_gateway::health_checks: the checks of the gateway's upstreams behind
// /health and /health/ready (the seed's components `database` and
// `redis_pool`), which the maintenance thread also runs.
//
// Every upstream is checked at once, each within --health-timeout-ms:
// SELECT 1 on PostgreSQL, and PING on every Redis instance over connections
// of the checks' own (a redis_pipeline on this object's thread, one connect
// attempt and no retry: a probe reports an outage, it does not wait it out).
// So a probe answers within that timeout, plus a few milliseconds, however
// many upstreams hang, and never waits for the requests' work.
// obs::http::health runs its checks one after the other: check_database()
// starts a round of PINGs before its own SELECT 1, and check_redis() takes
// that round, so the two overlap. A probe that comes while a round runs
// shares it; check_redis() alone (the maintenance thread's) takes a round
// that just ended.
//
// Messages say how many, never which instance or where: the probes answer
// without credentials. What failed, and why, goes to the log.
//
//   health_checks checks(db, tenants, std::chrono::seconds(1));
//   handler.health().add_check("database", [&] { return checks.check_database(); });
//   handler.health().add_check("redis_pool", [&] { return checks.check_redis(); });
//
// Thread safety: every member may be called from any thread.
#pragma once

#include <chrono>
#include <memory>

#include <obs/http/health.hpp>

#include "database.hpp"
#include "redis_instance.hpp"
#include "tenants.hpp"

namespace redis_gateway {

/// See the header comment.
class health_checks {
 public:
  /// Keeps `db` and `t` by reference; starts the checks' thread.
  health_checks(database& db, const tenants& t, std::chrono::milliseconds timeout);
  /// Closes the checks' connections and joins their thread.
  ~health_checks();
  health_checks(const health_checks&) = delete;
  health_checks& operator=(const health_checks&) = delete;

  /// SELECT 1, while the Redis round (see check_redis()) runs.
  obs::http::check_result check_database();
  /// PING on every instance: healthy when all answer, degraded when some
  /// do, unhealthy when none does (no instances is healthy).
  obs::http::check_result check_redis();

  /// `inst` was deleted: the checks' connection to it closes.
  void forget(const redis_instance& inst);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace redis_gateway
