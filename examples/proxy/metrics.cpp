#include "metrics.hpp"

#include <vector>

#include <obs/histogram_config.hpp>
#include <obs/registry.hpp>

namespace proxy {

namespace {

// Latency buckets from 5 µs to 10 s: a cache hit takes tens of µs and an
// origin round trip hundreds, so the low decades are split finely enough for
// a p50/p99 interpolated from them to mean something.
std::vector<double> latency_buckets() {
  return {5e-6,   1e-5, 2e-5, 3e-5,   5e-5, 7.5e-5, 1e-4, 1.5e-4, 2e-4, 3e-4, 5e-4, 7.5e-4, 1e-3,
          2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1,    0.25, 0.5,    1,    2.5,  5,    10};
}

}  // namespace

void register_metrics() {
  obs::registry& reg = obs::global_registry();
  reg.set_buckets_for_metric(obs::matcher::full("pgcache_query_duration_seconds"), latency_buckets());
  reg.set_buckets_for_metric(obs::matcher::full("pgcache_cache_lookup_seconds"), latency_buckets());

  reg.describe_histogram("pgcache_query_duration_seconds", "seconds",
                         "Query latency as the client sees it, by where the result came from (cache, origin).");
  reg.describe_histogram("pgcache_cache_lookup_seconds", "seconds", "Time to look a result up in the cache.");
  reg.describe_counter("pgcache_queries_total", "",
                       "Statements by classification: cache_hit, cache_miss, uncacheable, unsupported, parse_error.");
  reg.describe_counter("pgcache_bytes_total", "bytes",
                       "Protocol bytes: client_in/client_out to and from clients, origin_out/origin_in to and from "
                       "PostgreSQL.");
  reg.describe_counter("pgcache_cdc_events_total", "", "Row changes read from the replication slot, by type.");
  reg.describe_counter("pgcache_invalidations_total", "", "Cached results dropped because a table they read changed.");
  reg.describe_gauge("pgcache_connections_active", "", "Client connections open.");
  reg.describe_gauge("pgcache_cached_queries", "", "Results in the cache.");
  reg.describe_gauge("pgcache_cache_size_bytes", "bytes", "Bytes the cached results take, keys included.");
  reg.describe_gauge("pgcache_replication_lag_bytes", "bytes",
                     "WAL between the origin's current position and the slot's confirmed position.");
  // Not in the seed: the lag freezes while the feed is down, so alerts need
  // a signal of their own; and a listener out of descriptors must show.
  reg.describe_gauge("pgcache_change_feed_up", "",
                     "1 while the change feed reads its replication slot, 0 while caching is off without it.");
  reg.describe_counter("pgcache_accept_errors_total", "",
                       "Client connections the listener failed to accept (e.g. out of file descriptors).");

  // Every series exists from the start, at 0: rate() and alerts see the first event.
  metrics.query_duration = obs::handles<obs::histogram_handle>(
      reg.histogram_family("pgcache_query_duration_seconds", {"source"}), {"cache", "origin"});
  metrics.cache_lookup = reg.histogram("pgcache_cache_lookup_seconds");
  metrics.queries = obs::handles<obs::counter_handle>(
      reg.counter_family("pgcache_queries_total", {"status"}),
      {"cache_hit", "cache_miss", "uncacheable", "unsupported", "parse_error"});
  metrics.bytes = obs::handles<obs::counter_handle>(reg.counter_family("pgcache_bytes_total", {"direction"}),
                                                    {"client_in", "client_out", "origin_in", "origin_out"});
  metrics.cdc_events = obs::handles<obs::counter_handle>(reg.counter_family("pgcache_cdc_events_total", {"type"}),
                                                         {"insert", "update", "delete"});
  metrics.invalidations = reg.counter("pgcache_invalidations_total");
  metrics.connections_active = reg.gauge("pgcache_connections_active");
  metrics.cached_queries = reg.gauge("pgcache_cached_queries");
  metrics.cache_size_bytes = reg.gauge("pgcache_cache_size_bytes");
  metrics.replication_lag_bytes = reg.gauge("pgcache_replication_lag_bytes");
  metrics.change_feed_up = reg.gauge("pgcache_change_feed_up");
  metrics.accept_errors = reg.counter("pgcache_accept_errors_total");
}

}  // namespace proxy
