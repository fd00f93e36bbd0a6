// Every metric the pooler exports, in the seeds' order: seed 000's
// pg_doorman_auth_query_* (label `database`), then seed 001's db_pool_*
// (label `service` = "<database>/<user>"), then the pooler's own pooler_*,
// which no seed has. Call sites hold the handles these
// structs make, so recording is a plain add with no lookup.
//
// With OBS_DISABLE=1 the recording handles are obs's no-op ones (the
// benchmark's baseline); the callback gauges are read only at scrape time
// and stay.
#pragma once

#include <obs/buckets.hpp>
#include <obs/callback_registration.hpp>
#include <obs/metrics.hpp>
#include <obs/registry.hpp>

#include <functional>
#include <string>
#include <vector>

namespace pooler::metrics {

#if OBS_DISABLE
using counter = obs::detail::disabled_counter;
using gauge = obs::detail::disabled_gauge;
using histogram = obs::detail::disabled_histogram;
#else
using counter = obs::counter;
using gauge = obs::gauge;
using histogram = obs::histogram;
#endif

namespace detail {
template <class Handle, class Make>
Handle make(Make&& make_handle) {
#if OBS_DISABLE
  (void)make_handle;
  return {};
#else
  return make_handle();
#endif
}
}  // namespace detail

/// HELP texts and buckets; call once before any pool or database is made.
inline void describe(obs::registry& reg = obs::global_registry()) {
  // Seed 000.
  reg.describe_counter("pg_doorman_auth_query_cache_hits_total", "", "Number of auth_query cache hits");
  reg.describe_counter("pg_doorman_auth_query_cache_misses_total", "", "Number of auth_query cache misses (triggered PG query)");
  reg.describe_counter("pg_doorman_auth_query_cache_refetches_total", "", "Number of auth_query re-fetches on auth failure");
  reg.describe_counter("pg_doorman_auth_query_cache_rate_limited_total", "",
                       "Number of auth_query re-fetches blocked by rate limiting");
  reg.describe_gauge("pg_doorman_auth_query_executor_active_connections", "", "Number of active executor pool connections");
  reg.describe_counter("pg_doorman_auth_query_executor_errors_total", "", "Number of auth_query executor errors");
  reg.describe_gauge("pg_doorman_auth_query_dynamic_pools", "", "Number of active dynamic user pools");
  reg.describe_counter("pg_doorman_auth_query_dynamic_pools_created_total", "", "Number of dynamic pools created");
  reg.describe_counter("pg_doorman_auth_query_dynamic_pools_destroyed_total", "",
                       "Number of dynamic pools destroyed (GC, RELOAD, etc.)");
  // Seed 001.
  reg.describe_gauge("db_pool_connections", "", "Database connection pool connections by state");
  reg.describe_histogram("db_pool_acquire_duration_seconds", "seconds", "Time to acquire a connection from the pool");
  reg.describe_counter("db_pool_connection_errors_total", "", "Database connection pool errors by type");
  // Not in the seeds.
  reg.describe_counter("pooler_accept_errors_total", "",
                       "Client connections the listener failed to accept (e.g. out of descriptors)");
  reg.describe_counter("pooler_client_protocol_errors_total", "",
                       "Client connections closed for breaking the protocol");
  // The alert thresholds (P95 > 1 s, > 5 s) are bucket bounds, so
  // histogram_quantile is exact where it matters.
  reg.set_buckets_for_metric(obs::matcher::full("db_pool_acquire_duration_seconds"),
                             {0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30});
}

/// Seed 000's nine series for one database with auth_query.
struct auth_query_metrics {
  explicit auth_query_metrics(const std::string& database, obs::registry& reg = obs::global_registry())
      : cache_hits(detail::make<counter>([&] { return reg.counter("pg_doorman_auth_query_cache_hits_total", {{"database", database}}); })),
        cache_misses(detail::make<counter>([&] { return reg.counter("pg_doorman_auth_query_cache_misses_total", {{"database", database}}); })),
        cache_refetches(detail::make<counter>([&] { return reg.counter("pg_doorman_auth_query_cache_refetches_total", {{"database", database}}); })),
        cache_rate_limited(detail::make<counter>([&] { return reg.counter("pg_doorman_auth_query_cache_rate_limited_total", {{"database", database}}); })),
        executor_active(detail::make<gauge>([&] { return reg.gauge("pg_doorman_auth_query_executor_active_connections", {{"database", database}}); })),
        executor_errors(detail::make<counter>([&] { return reg.counter("pg_doorman_auth_query_executor_errors_total", {{"database", database}}); })),
        dynamic_pools(detail::make<gauge>([&] { return reg.gauge("pg_doorman_auth_query_dynamic_pools", {{"database", database}}); })),
        dynamic_pools_created(detail::make<counter>([&] { return reg.counter("pg_doorman_auth_query_dynamic_pools_created_total", {{"database", database}}); })),
        dynamic_pools_destroyed(detail::make<counter>([&] { return reg.counter("pg_doorman_auth_query_dynamic_pools_destroyed_total", {{"database", database}}); })) {}

  counter cache_hits;
  counter cache_misses;
  counter cache_refetches;
  counter cache_rate_limited;
  gauge executor_active;
  counter executor_errors;
  gauge dynamic_pools;
  counter dynamic_pools_created;
  counter dynamic_pools_destroyed;
};

/// What a pool's db_pool_connections callbacks read.
struct pool_counts {
  std::function<double()> active, idle, max, waiting;
};

/// Seed 001's series for one pool; destroying it removes them all.
class pool_metrics {
 public:
  pool_metrics(const std::string& service, pool_counts counts, obs::registry& reg = obs::global_registry())
      : service_(service),
        reg_(reg),
        acquire_duration(detail::make<histogram>([&] { return reg.histogram("db_pool_acquire_duration_seconds", {{"service", service}}); })),
        errors_timeout(detail::make<counter>([&] { return reg.counter("db_pool_connection_errors_total", {{"service", service}, {"error_type", "timeout"}}); })),
        errors_closed(detail::make<counter>([&] { return reg.counter("db_pool_connection_errors_total", {{"service", service}, {"error_type", "closed"}}); })),
        errors_other(detail::make<counter>([&] { return reg.counter("db_pool_connection_errors_total", {{"service", service}, {"error_type", "other"}}); })) {
    gauges_.push_back(reg.gauge_callback("db_pool_connections", {{"service", service}, {"state", "active"}}, std::move(counts.active)));
    gauges_.push_back(reg.gauge_callback("db_pool_connections", {{"service", service}, {"state", "idle"}}, std::move(counts.idle)));
    gauges_.push_back(reg.gauge_callback("db_pool_connections", {{"service", service}, {"state", "max"}}, std::move(counts.max)));
    gauges_.push_back(reg.gauge_callback("db_pool_connections", {{"service", service}, {"state", "waiting"}}, std::move(counts.waiting)));
  }
  ~pool_metrics() {
    gauges_.clear();
    reg_.remove_matching("db_pool_connections", {{"service", service_}});
    reg_.remove_matching("db_pool_acquire_duration_seconds", {{"service", service_}});
    reg_.remove_matching("db_pool_connection_errors_total", {{"service", service_}});
  }
  pool_metrics(const pool_metrics&) = delete;
  pool_metrics& operator=(const pool_metrics&) = delete;

 private:
  std::string service_;
  obs::registry& reg_;
  std::vector<obs::callback_registration> gauges_;

 public:
  histogram acquire_duration;
  counter errors_timeout;
  counter errors_closed;
  counter errors_other;
};

/// The pooler's own series, one each: failures that belong to no pool.
struct service_metrics {
  explicit service_metrics(obs::registry& reg = obs::global_registry())
      : accept_errors(detail::make<counter>([&] { return reg.counter("pooler_accept_errors_total"); })),
        client_protocol_errors(detail::make<counter>([&] { return reg.counter("pooler_client_protocol_errors_total"); })) {}

  counter accept_errors;
  counter client_protocol_errors;
};

}  // namespace pooler::metrics
