// redis_gateway::config: the gateway's settings, from the seed's environment
// variables (RATE_LIMIT_DEFAULT_RPS, METRICS_ENABLED, HEALTH_CHECK_INTERVAL,
// MAX_RETRY_ATTEMPTS, RETRY_DELAY_MS, plus DATABASE_URL and ADMIN_TOKEN) and
// command-line flags, which win over the environment.
//
//   config c = parse_config(argc, argv, [](const char* n) { return std::getenv(n); });
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>

#include <service/endpoint.hpp>
#include <service/push_config.hpp>

namespace redis_gateway {

/// Everything configurable; the defaults are the seed's.
struct config {
  service::endpoint listen{"127.0.0.1", 3000};     ///< the API (and by default /metrics)
  std::optional<service::endpoint> metrics_listen;  ///< moves /metrics to a management port
  bool metrics_enabled = true;               ///< METRICS_ENABLED
  service::push_config push;                 ///< --remote-write-*: pushed as well as scraped
  std::string database_url;                  ///< libpq conninfo; DATABASE_URL
  std::string db_schema = "redis_gateway";   ///< schema of the gateway's tables
  std::string admin_token;                   ///< bearer token of the /api admin; ADMIN_TOKEN
  std::uint32_t rate_limit_default_rps = 100;                     ///< RATE_LIMIT_DEFAULT_RPS
  std::chrono::milliseconds health_check_interval{30'000};        ///< HEALTH_CHECK_INTERVAL
  std::uint32_t max_retry_attempts = 3;                           ///< MAX_RETRY_ATTEMPTS
  std::chrono::milliseconds retry_delay{1000};                    ///< RETRY_DELAY_MS
  /// A Redis command's time from arrival to reply, the wait for a connection
  /// included; also each connect attempt's.
  std::chrono::milliseconds redis_timeout{2000};
  std::chrono::milliseconds db_timeout{2000};         ///< a PostgreSQL call's: connecting and the statement
  std::chrono::milliseconds health_timeout{1000};     ///< each upstream check of /health and /health/ready
  std::chrono::milliseconds shutdown_timeout{10000};  ///< after SIGTERM, for the requests in flight
  /// A client's time to send a whole request, from its connection or the
  /// last answer; then the connection closes.
  std::chrono::milliseconds client_timeout{30000};
  /// Threads for HTTP and every Redis command. One by default, as nginx,
  /// Redis and pgbouncer: one thread answers ~140k requests a second, and
  /// a second one, where the gateway shares its cores with clients and
  /// Redis, only adds wake-ups (README, Performance).
  unsigned io_threads = 1;
  /// How long an I/O thread with nothing to do polls before it sleeps
  /// (service::run_io); zero: it sleeps at once.
  std::chrono::microseconds busy_poll{0};
  unsigned workers = 8;                           ///< threads for /api requests, which query PostgreSQL
  std::size_t db_pool_size = 4;                   ///< idle PostgreSQL connections kept
  std::size_t max_connections = 4096;             ///< open HTTP connections at most
  std::size_t max_header_bytes = 64 * 1024;       ///< request line + headers; beyond: 431
  std::size_t max_body_bytes = 1024 * 1024;       ///< request body; beyond: 413
  std::size_t max_key_bytes = 4096;               ///< a Redis key or field; beyond: 413
  std::size_t max_value_bytes = 512 * 1024;       ///< a Redis value; beyond: 413
};

/// A flag or variable that does not parse.
struct config_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Reads `getenv` then `argv`; throws config_error naming what is wrong.
/// `--help` is not handled here (main prints usage()).
config parse_config(int argc, const char* const* argv, const std::function<const char*(const char*)>& getenv);

/// "30s", "500ms", "2m" or bare seconds ("30"); throws config_error.
std::chrono::milliseconds parse_duration(const std::string& s);

/// The flags, one a line, for --help.
std::string usage();

}  // namespace redis_gateway
