// Every metric redis_gateway exports, in the order of seed 003 (RedisGate
// phase 2), as the handles hot files record through: a call site is one line,
// `metrics.redis_commands.with(command).increment()`. metrics.cpp registers
// them with their HELP texts and buckets.
//
// `path` is always a route template (`/redis/{instance}/get/{key}`) or
// "unmatched", `method` one of a fixed set, `command` one of the gateway's
// whitelisted commands, `type` one of select/insert/delete/migrate/ping: every
// label has a bounded set of values, so no request can create series. A
// labelled series appears when first recorded, as the seed's do.
// `api_key_id` names an API key by its database id, never the key itself;
// a key's series goes when the key does.
//
// http_request_duration_seconds is a native histogram besides its classic
// buckets, and carries the request's W3C trace id as exemplar when it sent
// a `traceparent`: protobuf and OpenMetrics scrapes see both.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include <obs/handles.hpp>

namespace redis_gateway {

/// The handles, in the seed's order.
struct metric_handles {
  // HTTP
  obs::counter_family_handle http_requests;            ///< by method, path, status
  obs::counter_family_handle http_request_errors;      ///< by method, path, status
  obs::histogram_family_handle http_request_duration;  ///< by method, path
  // Redis
  obs::counter_family_handle redis_commands;            ///< by command
  obs::counter_family_handle redis_command_errors;      ///< by command
  obs::histogram_family_handle redis_command_duration;  ///< by command
  obs::gauge_handle redis_connections_active;
  // Database
  obs::counter_family_handle database_queries;            ///< by type
  obs::counter_family_handle database_query_errors;       ///< by type
  obs::histogram_family_handle database_query_duration;  ///< by type
  // Resources
  obs::gauge_handle redis_instances;
  obs::gauge_handle organizations;
  obs::gauge_handle users;
  // API keys
  obs::counter_handle api_key_requests;
  obs::counter_handle api_key_auth_failures;
  obs::counter_family_handle api_key_rate_limited;  ///< by api_key_id, looked up on refusals only
  // Not in the seed: a listener out of descriptors must show.
  obs::counter_handle http_accept_errors;
};

/// The gateway's metrics; register_metrics() must fill them before anything
/// records.
inline metric_handles metrics;

/// Registers every metric in obs's global registry, with HELP texts and
/// buckets, and points `metrics` at them; call once at startup.
void register_metrics();

/// False in an OBS_DISABLE=1 build: there a call site skips the work of
/// finding its label values too, so that the build measures the gateway
/// without any of its instrumentation.
inline constexpr bool metrics_enabled = !OBS_DISABLE;

/// The values of the `method` label: GET .. OPTIONS, and `other` ("OTHER")
/// for any other method.
enum class http_method : std::uint8_t { get, post, put, delete_, head, patch, options, other };

/// Drops the series of a deleted API key.
void forget_api_key(std::int64_t api_key_id);

}  // namespace redis_gateway
