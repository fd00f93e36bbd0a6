// Every metric redis_gateway exports, in the order of seed 003 (RedisGate
// phase 2), with its HELP text. Call sites record in one line through the
// OBS_* macros; describe() must run once before the first scrape.
//
// `path` is always a route template (`/redis/{instance}/get/{key}`) or
// "unmatched", `method` one of a fixed set, `command` one of the gateway's
// whitelisted commands, `type` one of select/insert/delete/migrate/ping: every
// label has a bounded set of values, so no request can create series.
// `api_key_id` names an API key by its database id, never the key itself;
// a key's series goes when the key does.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <obs/metrics.hpp>
#include <obs/registry.hpp>

namespace redis_gateway::metrics {

/// Bounds for Redis commands: a local Redis answers in tens of microseconds,
/// so the default HTTP buckets (5 ms and up) would put every command in one.
inline std::vector<double> redis_buckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1};
}

/// Registers HELP texts and bucket bounds on the global registry.
inline void describe() {
  auto& reg = obs::global_registry();
  reg.set_buckets_for_metric(obs::matcher::full("redis_command_duration_seconds"), redis_buckets());
  // HTTP and database durations keep obs::default_buckets() (5 ms .. 10 s).

  // HTTP
  obs::describe_counter("http_requests_total", "", "Total number of HTTP requests");
  obs::describe_counter("http_request_errors_total", "",
                        "Total number of HTTP requests answered with a status of 400 or more");
  obs::describe_histogram("http_request_duration_seconds", "seconds", "HTTP request duration in seconds");
  // Redis
  obs::describe_counter("redis_commands_total", "", "Total number of Redis commands executed");
  obs::describe_counter("redis_command_errors_total", "",
                        "Total number of Redis commands that failed (connection or Redis error)");
  obs::describe_histogram("redis_command_duration_seconds", "seconds", "Redis command duration in seconds");
  obs::describe_gauge("redis_connections_active", "", "Open Redis connections, pooled and pipelined, over all instances");
  // Database
  obs::describe_counter("database_queries_total", "", "Total number of PostgreSQL queries");
  obs::describe_counter("database_query_errors_total", "", "Total number of PostgreSQL queries that failed");
  obs::describe_histogram("database_query_duration_seconds", "seconds", "PostgreSQL query duration in seconds");
  // Resources
  obs::describe_gauge("redis_instances_total", "", "Redis instances configured over all organizations");
  obs::describe_gauge("organizations_total", "", "Organizations");
  obs::describe_gauge("users_total", "", "Users over all organizations");
  // API keys
  obs::describe_counter("api_key_requests_total", "", "Requests authenticated with an API key");
  obs::describe_counter("api_key_auth_failures_total", "",
                        "Requests refused with 401: missing or unknown API key");
  obs::describe_counter("api_key_rate_limited_total", "", "Requests refused with 429, by API key");
}

/// A request of key `api_key_id` refused with 429. The label lookup is paid
/// on refusals only.
inline void rate_limited(std::int64_t api_key_id) {
  OBS_COUNTER_FAMILY("api_key_rate_limited_total", "api_key_id").with(std::to_string(api_key_id)).increment();
}

/// Drops a deleted key's series.
inline void forget_api_key(std::int64_t api_key_id) {
  obs::global_registry().remove("api_key_rate_limited_total", {{"api_key_id", std::to_string(api_key_id)}});
}

}  // namespace redis_gateway::metrics
