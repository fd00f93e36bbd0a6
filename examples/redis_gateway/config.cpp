#include "config.hpp"

#include <charconv>
#include <stdexcept>
#include <limits>
#include <string_view>

namespace redis_gateway {
namespace {

template <class T>
T parse_number(std::string_view what, std::string_view s, T min, T max) {
  T v{};
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || v < min || v > max)
    throw config_error(std::string(what) + ": '" + std::string(s) + "' is not a number in [" +
                       std::to_string(min) + ", " + std::to_string(max) + "]");
  return v;
}

service::endpoint parse_endpoint(std::string_view what, std::string_view s) {
  try {
    return service::parse_endpoint(what, s);
  } catch (const std::invalid_argument& e) {
    throw config_error(e.what());
  }
}

bool parse_bool(std::string_view what, std::string_view s) {
  if (s == "true" || s == "1" || s == "yes" || s == "on") return true;
  if (s == "false" || s == "0" || s == "no" || s == "off") return false;
  throw config_error(std::string(what) + ": '" + std::string(s) + "' is not true or false");
}

}  // namespace

std::chrono::milliseconds parse_duration(const std::string& s) {
  std::string_view v = s;
  std::uint64_t scale = 1000;
  if (v.ends_with("ms")) {
    scale = 1, v.remove_suffix(2);
  } else if (v.ends_with("s")) {
    v.remove_suffix(1);
  } else if (v.ends_with("m")) {
    scale = 60'000, v.remove_suffix(1);
  }
  const auto n = parse_number<std::uint64_t>("duration", v, 1, 86'400'000);
  return std::chrono::milliseconds(n * scale);
}

config parse_config(int argc, const char* const* argv, const std::function<const char*(const char*)>& getenv) {
  config c;
  constexpr auto u32max = std::numeric_limits<std::uint32_t>::max();
  auto env = [&](const char* name, auto apply) {
    if (const char* v = getenv(name); v && *v) apply(std::string(v));
  };
  env("DATABASE_URL", [&](const std::string& v) { c.database_url = v; });
  env("ADMIN_TOKEN", [&](const std::string& v) { c.admin_token = v; });
  env("RATE_LIMIT_DEFAULT_RPS",
      [&](const std::string& v) { c.rate_limit_default_rps = parse_number<std::uint32_t>("RATE_LIMIT_DEFAULT_RPS", v, 1, u32max); });
  env("METRICS_ENABLED", [&](const std::string& v) { c.metrics_enabled = parse_bool("METRICS_ENABLED", v); });
  env("HEALTH_CHECK_INTERVAL", [&](const std::string& v) { c.health_check_interval = parse_duration(v); });
  env("MAX_RETRY_ATTEMPTS",
      [&](const std::string& v) { c.max_retry_attempts = parse_number<std::uint32_t>("MAX_RETRY_ATTEMPTS", v, 1, 100); });
  env("RETRY_DELAY_MS", [&](const std::string& v) {
    c.retry_delay = std::chrono::milliseconds(parse_number<std::uint32_t>("RETRY_DELAY_MS", v, 0, 600'000));
  });

  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw config_error(flag + " needs a value");
      return argv[++i];
    };
    auto size = [&](std::size_t min, std::size_t max) { return parse_number<std::size_t>(flag, value(), min, max); };
    auto ms = [&](std::size_t min) { return std::chrono::milliseconds(size(min, 600'000)); };
    if (flag == "--listen") c.listen = parse_endpoint(flag, value());
    else if (flag == "--metrics-listen") c.metrics_listen = parse_endpoint(flag, value());
    else if (flag == "--metrics-enabled") c.metrics_enabled = parse_bool(flag, value());
    else if (flag == "--remote-write-url") c.push.url = value();
    else if (flag == "--remote-write-interval") c.push.interval = parse_duration(value());
    else if (flag == "--remote-write-native-histograms") c.push.native_histograms = parse_bool(flag, value());
    else if (flag == "--database-url") c.database_url = value();
    else if (flag == "--db-schema") c.db_schema = value();
    else if (flag == "--admin-token") c.admin_token = value();
    else if (flag == "--rate-limit-rps") c.rate_limit_default_rps = parse_number<std::uint32_t>(flag, value(), 1, u32max);
    else if (flag == "--health-check-interval") c.health_check_interval = parse_duration(value());
    else if (flag == "--max-retry-attempts") c.max_retry_attempts = parse_number<std::uint32_t>(flag, value(), 1, 100);
    else if (flag == "--retry-delay-ms") c.retry_delay = ms(0);
    else if (flag == "--redis-timeout-ms") c.redis_timeout = ms(1);
    else if (flag == "--db-timeout-ms") c.db_timeout = ms(1);
    else if (flag == "--health-timeout-ms") c.health_timeout = ms(1);
    else if (flag == "--shutdown-timeout-ms") c.shutdown_timeout = ms(0);
    else if (flag == "--client-timeout-ms") c.client_timeout = ms(100);
    else if (flag == "--threads") c.io_threads = static_cast<unsigned>(size(1, 256));
    else if (flag == "--busy-poll-us") c.busy_poll = std::chrono::microseconds(size(0, 1'000'000));
    else if (flag == "--workers") c.workers = static_cast<unsigned>(size(1, 1024));
    else if (flag == "--db-pool-size") c.db_pool_size = size(1, 256);
    else if (flag == "--max-connections") c.max_connections = size(1, 1'000'000);
    else if (flag == "--max-header-bytes") c.max_header_bytes = size(1024, 16 << 20);
    else if (flag == "--max-body-bytes") c.max_body_bytes = size(0, 1u << 30);
    else if (flag == "--max-key-bytes") c.max_key_bytes = size(1, 1u << 29);
    else if (flag == "--max-value-bytes") c.max_value_bytes = size(1, 1u << 29);
    else throw config_error("unknown flag " + flag + " (see --help)");
  }
  if (c.database_url.empty()) throw config_error("no database: set DATABASE_URL or --database-url");
  if (c.admin_token.empty()) throw config_error("no admin token: set ADMIN_TOKEN or --admin-token");
  if (c.db_schema.empty()) throw config_error("--db-schema is empty");
  return c;
}

std::string usage() {
  return "usage: redis_gateway [flags]   (flags win over the environment)\n"
         "  --listen HOST:PORT            API address (127.0.0.1:3000)\n"
         "  --metrics-listen HOST:PORT    serve /metrics on this management port instead of the API port\n"
         "  --metrics-enabled BOOL        METRICS_ENABLED (true)\n"
         "  --remote-write-url URL        also push the metrics to this remote_write receiver\n"
         "  --remote-write-interval D     between pushes (15s)\n"
         "  --remote-write-native-histograms BOOL  push the native histogram too (false)\n"
         "  --database-url CONNINFO       DATABASE_URL, libpq conninfo (required)\n"
         "  --db-schema NAME              schema of the gateway's tables (redis_gateway)\n"
         "  --admin-token TOKEN           ADMIN_TOKEN, bearer token for /api (required)\n"
         "  --rate-limit-rps N            RATE_LIMIT_DEFAULT_RPS (100)\n"
         "  --health-check-interval D     HEALTH_CHECK_INTERVAL, e.g. 30s (30s)\n"
         "  --max-retry-attempts N        MAX_RETRY_ATTEMPTS (3)\n"
         "  --retry-delay-ms N            RETRY_DELAY_MS (1000)\n"
         "  --redis-timeout-ms N          a Redis command, from arrival to reply; each connect attempt (2000)\n"
         "  --db-timeout-ms N             a PostgreSQL call: connecting and the statement (2000)\n"
         "  --health-timeout-ms N         each upstream check of /health and /health/ready (1000)\n"
         "  --shutdown-timeout-ms N       after SIGTERM, for requests in flight; then 503 (10000)\n"
         "  --client-timeout-ms N         a client's time to send a request; then its connection closes (30000)\n"
         "  --threads N                   HTTP I/O threads, which also run every Redis command (1)\n"
         "  --busy-poll-us N              an idle I/O thread polls this long before it sleeps (0)\n"
         "  --workers N                   threads for /api requests, which query PostgreSQL (8)\n"
         "  --db-pool-size N              idle PostgreSQL connections kept (4)\n"
         "  --max-connections N           open HTTP connections (4096)\n"
         "  --max-header-bytes N          request line + headers, else 431 (65536)\n"
         "  --max-body-bytes N            request body, else 413 (1048576)\n"
         "  --max-key-bytes N             Redis key/field, else 413 (4096)\n"
         "  --max-value-bytes N           Redis value, else 413 (524288)\n";
}

}  // namespace redis_gateway
