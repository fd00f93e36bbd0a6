// Every metric the proxy exports, in the order of the seed (pgcache ADR-007),
// with its HELP text, and how its histograms bucket. Call sites record with
// one OBS_* line each; this file is the whole contract.
//
//   pgcache_query_duration_seconds{source=cache|origin}   histogram
//   pgcache_cache_lookup_seconds                           histogram
//   pgcache_queries_total{status=cache_hit|cache_miss|uncacheable|unsupported|parse_error}
//   pgcache_bytes_total{direction=client_in|client_out|origin_in|origin_out}
//   pgcache_cdc_events_total{type=insert|update|delete}
//   pgcache_invalidations_total
//   pgcache_connections_active                             gauge
//   pgcache_cached_queries                                 gauge (read at scrape time)
//   pgcache_cache_size_bytes                               gauge (read at scrape time)
//   pgcache_replication_lag_bytes                          gauge
//   pgcache_change_feed_up                                 gauge (not in the seed)
//   pgcache_accept_errors_total                            counter (not in the seed)
#pragma once

#include <vector>

#include <obs/histogram_config.hpp>
#include <obs/metrics.hpp>
#include <obs/registry.hpp>

namespace proxy {

/// Latency buckets from 5 µs to 10 s: a cache hit takes tens of µs and an
/// origin round trip hundreds, so the low decades are split finely enough
/// for a p50/p99 interpolated from them to mean something.
inline std::vector<double> latency_buckets() {
  return {5e-6,  1e-5,   2e-5, 3e-5, 5e-5, 7.5e-5, 1e-4, 1.5e-4, 2e-4, 3e-4, 5e-4, 7.5e-4, 1e-3,
          2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

/// Describes every metric and sets the histograms' buckets; call once at
/// startup, before the first query.
inline void describe_metrics(obs::registry& reg) {
  reg.set_buckets_for_metric(obs::matcher::full("pgcache_query_duration_seconds"), latency_buckets());
  reg.set_buckets_for_metric(obs::matcher::full("pgcache_cache_lookup_seconds"), latency_buckets());

  obs::describe_histogram("pgcache_query_duration_seconds", "seconds",
                          "Query latency as the client sees it, by where the result came from (cache, origin).");
  obs::describe_histogram("pgcache_cache_lookup_seconds", "seconds", "Time to look a result up in the cache.");
  obs::describe_counter("pgcache_queries_total", "",
                        "Statements by classification: cache_hit, cache_miss, uncacheable, unsupported, parse_error.");
  obs::describe_counter("pgcache_bytes_total", "bytes",
                        "Protocol bytes: client_in/client_out to and from clients, origin_out/origin_in to and from "
                        "PostgreSQL.");
  obs::describe_counter("pgcache_cdc_events_total", "", "Row changes read from the replication slot, by type.");
  obs::describe_counter("pgcache_invalidations_total", "", "Cached results dropped because a table they read changed.");
  obs::describe_gauge("pgcache_connections_active", "", "Client connections open.");
  obs::describe_gauge("pgcache_cached_queries", "", "Results in the cache.");
  obs::describe_gauge("pgcache_cache_size_bytes", "bytes", "Bytes the cached results take, keys included.");
  obs::describe_gauge("pgcache_replication_lag_bytes", "bytes",
                      "WAL between the origin's current position and the slot's confirmed position.");
  // Not in the seed: the lag freezes while the feed is down, so alerts need
  // a signal of their own; and a listener out of descriptors must show.
  obs::describe_gauge("pgcache_change_feed_up", "",
                      "1 while the change feed reads its replication slot, 0 while caching is off without it.");
  obs::describe_counter("pgcache_accept_errors_total", "",
                        "Client connections the listener failed to accept (e.g. out of file descriptors).");
  // At 0 from the start, so that rate() and increase() see the first errors.
  reg.counter("pgcache_accept_errors_total").increment(0);
}

}  // namespace proxy
