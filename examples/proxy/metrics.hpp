// Every metric the proxy exports, in the order of the seed (pgcache ADR-007),
// as the handles hot files record through: a call site is one line and a
// plain add, `metrics.queries[index(status::cache_hit)].increment()`.
// metrics.cpp registers them with their HELP texts and buckets.
//
//   pgcache_query_duration_seconds{source=cache|origin}   histogram
//   pgcache_cache_lookup_seconds                           histogram
//   pgcache_queries_total{status=cache_hit|cache_miss|uncacheable|unsupported|parse_error}
//   pgcache_bytes_total{direction=client_in|client_out|origin_in|origin_out}
//   pgcache_cdc_events_total{type=insert|update|delete}
//   pgcache_invalidations_total
//   pgcache_connections_active                             gauge
//   pgcache_cached_queries                                 gauge
//   pgcache_cache_size_bytes                               gauge
//   pgcache_replication_lag_bytes                          gauge
//   pgcache_change_feed_up                                 gauge (not in the seed)
//   pgcache_accept_errors_total                            counter (not in the seed)
#pragma once

#include <array>
#include <cstddef>

#include <obs/handles.hpp>

namespace proxy {

/// Where an answer came from: `source` of pgcache_query_duration_seconds.
enum class answer_source { cache, origin };
/// Which way protocol bytes went: `direction` of pgcache_bytes_total.
enum class byte_direction { client_in, client_out, origin_in, origin_out };
/// A row change the slot reported: `type` of pgcache_cdc_events_total.
enum class row_change { insert, update, remove };

/// The handles, each label set known up front an array in its enum's order
/// (status is classifier.hpp's).
struct metric_handles {
  std::array<obs::histogram_handle, 2> query_duration;  ///< by answer_source
  obs::histogram_handle cache_lookup;
  std::array<obs::counter_handle, 5> queries;  ///< by status
  std::array<obs::counter_handle, 4> bytes;    ///< by byte_direction
  std::array<obs::counter_handle, 3> cdc_events;  ///< by row_change
  obs::counter_handle invalidations;
  obs::gauge_handle connections_active;
  obs::gauge_handle cached_queries;
  obs::gauge_handle cache_size_bytes;
  obs::gauge_handle replication_lag_bytes;
  obs::gauge_handle change_feed_up;
  obs::counter_handle accept_errors;
};

/// The proxy's metrics. Until register_metrics() fills them they record
/// into nothing.
inline metric_handles metrics;

/// Registers every metric in obs's global registry, with HELP texts and
/// buckets, and points `metrics` at them; call once at startup.
void register_metrics();

/// The index of an enumerator in its handle array.
template <class Enum>
constexpr std::size_t index(Enum e) noexcept {
  return static_cast<std::size_t>(e);
}

}  // namespace proxy
