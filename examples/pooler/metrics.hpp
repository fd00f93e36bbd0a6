// Every metric the pooler exports, in the seeds' order: seed 000's
// pg_doorman_auth_query_* (label `database`), then seed 001's db_pool_*
// (label `service` = "<database>/<user>"), then the pooler's own pooler_*,
// which no seed has. Call sites hold the handles these structs keep, so
// recording is a plain add with no lookup: `p.m->errors_timeout.increment()`.
// metrics.cpp registers the series, with their HELP texts and buckets.
//
// With OBS_DISABLE=1 the handles are obs's no-op ones (the benchmark's
// baseline); the callback gauges are read only at scrape time and stay.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <obs/handles.hpp>

namespace pooler::metrics {

/// HELP texts and buckets; call once before any pool or database is made.
void describe();

/// Seed 000's nine series for one database with auth_query.
struct auth_query_metrics {
  /// Registers the series of `database`, at 0.
  explicit auth_query_metrics(const std::string& database);

  obs::counter_handle cache_hits;
  obs::counter_handle cache_misses;
  obs::counter_handle cache_refetches;
  obs::counter_handle cache_rate_limited;
  obs::gauge_handle executor_active;
  obs::counter_handle executor_errors;
  obs::gauge_handle dynamic_pools;
  obs::counter_handle dynamic_pools_created;
  obs::counter_handle dynamic_pools_destroyed;
};

/// What a pool's db_pool_connections callbacks read.
struct pool_counts {
  std::function<double()> active, idle, max, waiting;
};

/// Seed 001's series for one pool. A pool keeps it as long as it lives, so
/// recording needs no check; retire() or destruction removes the series.
class pool_metrics {
 public:
  /// Registers the series of `service`, the gauges as callbacks on `counts`.
  pool_metrics(const std::string& service, pool_counts counts);
  ~pool_metrics();
  pool_metrics(const pool_metrics&) = delete;
  pool_metrics& operator=(const pool_metrics&) = delete;

  /// Removes the series and stops the callbacks, once: a destroyed pool's
  /// clients may still record, into series no scrape shows, while a new pool
  /// of the same service registers its own.
  void retire();

  obs::histogram_handle acquire_duration;
  obs::counter_handle errors_timeout;
  obs::counter_handle errors_closed;
  obs::counter_handle errors_other;

 private:
  struct connection_gauges;  // db_pool_connections' callback registrations
  std::string service_;
  std::unique_ptr<connection_gauges> gauges_;  // null once retired
};

/// The pooler's own series, one each: failures that belong to no pool.
struct service_metrics {
  /// Registers both series, at 0.
  service_metrics();

  obs::counter_handle accept_errors;
  obs::counter_handle client_protocol_errors;
};

}  // namespace pooler::metrics
