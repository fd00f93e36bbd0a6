#include "metrics.hpp"

#include <utility>
#include <vector>

#include <obs/buckets.hpp>
#include <obs/callback_registration.hpp>
#include <obs/registry.hpp>

namespace pooler::metrics {

void describe() {
  obs::registry& reg = obs::global_registry();
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

auth_query_metrics::auth_query_metrics(const std::string& database) {
  obs::registry& reg = obs::global_registry();
  // Every series of one database, as registration takes its labels.
  const obs::label_view by_database[] = {{"database", database}};
  cache_hits = reg.counter("pg_doorman_auth_query_cache_hits_total", by_database);
  cache_misses = reg.counter("pg_doorman_auth_query_cache_misses_total", by_database);
  cache_refetches = reg.counter("pg_doorman_auth_query_cache_refetches_total", by_database);
  cache_rate_limited = reg.counter("pg_doorman_auth_query_cache_rate_limited_total", by_database);
  executor_active = reg.gauge("pg_doorman_auth_query_executor_active_connections", by_database);
  executor_errors = reg.counter("pg_doorman_auth_query_executor_errors_total", by_database);
  dynamic_pools = reg.gauge("pg_doorman_auth_query_dynamic_pools", by_database);
  dynamic_pools_created = reg.counter("pg_doorman_auth_query_dynamic_pools_created_total", by_database);
  dynamic_pools_destroyed = reg.counter("pg_doorman_auth_query_dynamic_pools_destroyed_total", by_database);
}

struct pool_metrics::connection_gauges {
  std::vector<obs::callback_registration> registrations;
};

pool_metrics::pool_metrics(const std::string& service, pool_counts counts)
    : service_(service), gauges_(std::make_unique<connection_gauges>()) {
  obs::registry& reg = obs::global_registry();
  acquire_duration = reg.histogram("db_pool_acquire_duration_seconds", {{"service", service}});
  errors_timeout = reg.counter("db_pool_connection_errors_total", {{"service", service}, {"error_type", "timeout"}});
  errors_closed = reg.counter("db_pool_connection_errors_total", {{"service", service}, {"error_type", "closed"}});
  errors_other = reg.counter("db_pool_connection_errors_total", {{"service", service}, {"error_type", "other"}});
  auto& gauges = gauges_->registrations;
  gauges.push_back(reg.gauge_callback("db_pool_connections", {{"service", service}, {"state", "active"}}, std::move(counts.active)));
  gauges.push_back(reg.gauge_callback("db_pool_connections", {{"service", service}, {"state", "idle"}}, std::move(counts.idle)));
  gauges.push_back(reg.gauge_callback("db_pool_connections", {{"service", service}, {"state", "max"}}, std::move(counts.max)));
  gauges.push_back(reg.gauge_callback("db_pool_connections", {{"service", service}, {"state", "waiting"}}, std::move(counts.waiting)));
}

pool_metrics::~pool_metrics() { retire(); }

void pool_metrics::retire() {
  if (!gauges_) return;
  gauges_.reset();
  obs::registry& reg = obs::global_registry();
  reg.remove_matching("db_pool_connections", {{"service", service_}});
  reg.remove_matching("db_pool_acquire_duration_seconds", {{"service", service_}});
  reg.remove_matching("db_pool_connection_errors_total", {{"service", service_}});
}

service_metrics::service_metrics() {
  obs::registry& reg = obs::global_registry();
  accept_errors = reg.counter("pooler_accept_errors_total");
  client_protocol_errors = reg.counter("pooler_client_protocol_errors_total");
}

}  // namespace pooler::metrics
