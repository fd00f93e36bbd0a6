#include "metrics.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <vector>

#include <obs/histogram_config.hpp>
#include <obs/registry.hpp>
#include <trace_context/traceparent.hpp>

#include "recording.hpp"

namespace redis_gateway {

namespace {

// Bounds for Redis commands: a local Redis answers in tens of microseconds,
// so the default HTTP buckets (5 ms and up) would put every command in one.
std::vector<double> redis_buckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1};
}

}  // namespace

void register_metrics() {
  obs::registry& reg = obs::global_registry();
  reg.set_buckets_for_metric(obs::matcher::full("redis_command_duration_seconds"), redis_buckets());
  // HTTP and database durations keep obs::default_buckets() (5 ms .. 10 s);
  // HTTP's are native too, which aggregate across instances at any quantile.
  reg.set_histogram_config(obs::matcher::full("http_request_duration_seconds"),
                           obs::histogram_config::explicit_buckets(obs::default_buckets()).with_native());

  // HTTP
  reg.describe_counter("http_requests_total", "", "Total number of HTTP requests");
  reg.describe_counter("http_request_errors_total", "",
                       "Total number of HTTP requests answered with a status of 400 or more");
  reg.describe_histogram("http_request_duration_seconds", "seconds", "HTTP request duration in seconds");
  // Redis
  reg.describe_counter("redis_commands_total", "", "Total number of Redis commands executed");
  reg.describe_counter("redis_command_errors_total", "",
                       "Total number of Redis commands that failed (connection or Redis error)");
  reg.describe_histogram("redis_command_duration_seconds", "seconds", "Redis command duration in seconds");
  reg.describe_gauge("redis_connections_active", "",
                     "Open Redis connections, the I/O threads' and the health checks', over all instances");
  // Database
  reg.describe_counter("database_queries_total", "", "Total number of PostgreSQL queries");
  reg.describe_counter("database_query_errors_total", "", "Total number of PostgreSQL queries that failed");
  reg.describe_histogram("database_query_duration_seconds", "seconds", "PostgreSQL query duration in seconds");
  // Resources
  reg.describe_gauge("redis_instances_total", "", "Redis instances configured over all organizations");
  reg.describe_gauge("organizations_total", "", "Organizations");
  reg.describe_gauge("users_total", "", "Users over all organizations");
  // API keys
  reg.describe_counter("api_key_requests_total", "", "Requests authenticated with an API key");
  reg.describe_counter("api_key_auth_failures_total", "", "Requests refused with 401: missing or unknown API key");
  reg.describe_counter("api_key_rate_limited_total", "", "Requests refused with 429, by API key");
  // Not in the seed.
  reg.describe_counter("http_accept_errors_total", "",
                       "HTTP connections the listener failed to accept (e.g. out of file descriptors)");

  metrics.http_requests = reg.counter_family("http_requests_total", {"method", "path", "status"});
  metrics.http_request_errors = reg.counter_family("http_request_errors_total", {"method", "path", "status"});
  metrics.http_request_duration = reg.histogram_family("http_request_duration_seconds", {"method", "path"});
  metrics.redis_commands = reg.counter_family("redis_commands_total", {"command"});
  metrics.redis_command_errors = reg.counter_family("redis_command_errors_total", {"command"});
  metrics.redis_command_duration = reg.histogram_family("redis_command_duration_seconds", {"command"});
  metrics.redis_connections_active = reg.gauge("redis_connections_active");
  metrics.database_queries = reg.counter_family("database_queries_total", {"type"});
  metrics.database_query_errors = reg.counter_family("database_query_errors_total", {"type"});
  metrics.database_query_duration = reg.histogram_family("database_query_duration_seconds", {"type"});
  metrics.redis_instances = reg.gauge("redis_instances_total");
  metrics.organizations = reg.gauge("organizations_total");
  metrics.users = reg.gauge("users_total");
  metrics.api_key_requests = reg.counter("api_key_requests_total");
  metrics.api_key_auth_failures = reg.counter("api_key_auth_failures_total");
  metrics.api_key_rate_limited = reg.counter_family("api_key_rate_limited_total", {"api_key_id"});
  // At 0 from the start, so that rate() and increase() see the first errors.
  metrics.http_accept_errors = reg.counter("http_accept_errors_total");
}

void forget_api_key(std::int64_t api_key_id) {
  obs::global_registry().remove("api_key_rate_limited_total", {{"api_key_id", std::to_string(api_key_id)}});
}

namespace {

// The `method` label's values, in http_method's order.
constexpr std::array<std::string_view, 8> method_labels{"GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS",
                                                        "OTHER"};

// Past this many series a thread drops its cache's last entry for a new one.
constexpr std::size_t series_cache_capacity = 64;

// Each thread's series, the one recorded last (the last_*_series pointer) first.
thread_local std::vector<request_series> request_series_cache;
thread_local std::vector<command_series> command_series_cache;

// The entry of `cache` that `is` accepts, else `make()`'s, added; moved to
// the front and pointed at by `last`.
template <class Series, class Is, class Make>
Series& find(std::vector<Series>& cache, Series*& last, Is is, Make make) {
  auto it = std::find_if(cache.begin(), cache.end(), is);
  if (it == cache.end()) {
    if (cache.size() == series_cache_capacity) cache.pop_back();
    cache.push_back(make());
    it = cache.end() - 1;
  }
  if (it != cache.begin()) std::iter_swap(it, cache.begin());
  return *(last = &cache.front());
}

request_series lookup_request(http_method method, std::string_view path, unsigned status) {
  const std::string_view m = method_labels[static_cast<std::size_t>(method)];
  const std::string code = std::to_string(status);
  request_series s{path.data(), method, status, metrics.http_requests.with(m, path, code), {},
                   metrics.http_request_duration.with(m, path)};
  if (status >= 400) s.errors = metrics.http_request_errors.with(m, path, code);
  return s;
}

}  // namespace

void record_traced(const obs::histogram_handle& duration, std::chrono::steady_clock::duration took,
                   std::string_view traceparent) {
  // The id is a view into the header, which outlives this call.
  if (const std::optional<std::string_view> id = trace_context::trace_id(traceparent))
    duration.record(took, {{"trace_id", *id}});
  else
    duration.record(took);
}

void count_failure(command_series& s, std::string_view command) {
  if (!s.errors) s.errors = metrics.redis_command_errors.with(command);
  s.errors->increment();
}

void record_request_elsewhere(http_method method, std::string_view path, unsigned status,
                              std::chrono::steady_clock::duration took, std::string_view traceparent) {
  const request_series& s = find(
      request_series_cache, last_request_series,
      [&](const request_series& e) { return e.path == path.data() && e.method == method && e.status == status; },
      [&] { return lookup_request(method, path, status); });
  count_request(s, status, took, traceparent);
}

void record_redis_command_elsewhere(std::string_view command, bool failed, std::chrono::steady_clock::duration took) {
  command_series& s = find(
      command_series_cache, last_command_series, [&](const command_series& e) { return e.command == command.data(); },
      [&] {
        return command_series{command.data(), metrics.redis_commands.with(command), std::nullopt,
                              metrics.redis_command_duration.with(command)};
      });
  count_command(s, command, failed, took);
}

}  // namespace redis_gateway
