// Every metric the gateway exports, in the order of design doc 005 (section
// 3), with its HELP text, and the one-line calls that record them.
//
//   HTTP layer         http_requests_total{method,route,status}   counter
//                      http_request_duration_seconds{method,route} histogram
//   WebSocket          active_connections                          gauge
//                      ws_messages_sent_total                      counter
//                      ws_messages_received_total                  counter
//   internal queues    channel_queue_depth{type="outbound"|"ack"}  gauge, read at scrape time
//                      channel_dropped_messages_total              counter
//   infrastructure     db_pool_wait_duration_seconds               histogram (pg_pool::acquire)
//                      db_query_duration_seconds                   histogram (pg_pool::exec)
//                      s3_upload_duration_seconds                  histogram (s3_client::put_object)
//                      s3_download_duration_seconds                histogram (s3_client::get_object)
//
// The four durations are timed by OBS_SCOPED_TIMER at the top of the function
// named, so their names appear there too.
#pragma once

#include <obs/metrics.hpp>
#include <obs/registry.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <string_view>

namespace gateway::metrics {

/// HELP texts and buckets; call once, before anything records.
inline void describe() {
  obs::registry& reg = obs::global_registry();
  obs::describe_counter("http_requests_total", "",
                        "HTTP requests on the public port by method, route template and status.");
  obs::describe_histogram("http_request_duration_seconds", "seconds",
                          "HTTP request latency on the public port by method and route template.");
  obs::describe_gauge("active_connections", "", "Current number of connected WebSocket clients.");
  obs::describe_counter("ws_messages_sent_total", "", "WebSocket messages written to clients.");
  obs::describe_counter("ws_messages_received_total", "",
                        "WebSocket messages read from clients (messages, ACKs, joins).");
  obs::describe_gauge("channel_queue_depth", "",
                      "Items waiting in internal queues: outbound (all connections' send queues) and ack.");
  obs::describe_counter("channel_dropped_messages_total", "",
                        "Messages dropped because an outbound or the ack queue was full.");
  obs::describe_histogram("db_pool_wait_duration_seconds", "seconds",
                          "Time spent waiting for a database connection from the pool.");
  obs::describe_histogram("db_query_duration_seconds", "seconds", "Time spent executing database queries.");
  obs::describe_histogram("s3_upload_duration_seconds", "seconds", "Time to upload an attachment to S3.");
  obs::describe_histogram("s3_download_duration_seconds", "seconds", "Time to download an attachment from S3.");

  // Series without labels exist from the start, so that rate() and
  // increase() have a zero to start from.
  OBS_GAUGE("active_connections").increment(0);
  OBS_COUNTER("ws_messages_sent_total").increment(0);
  OBS_COUNTER("ws_messages_received_total").increment(0);
  OBS_COUNTER("channel_dropped_messages_total").increment(0);

  // A pooled connection is usually free at once: resolve the sub-millisecond range.
  reg.set_buckets_for_metric(obs::matcher::full("db_pool_wait_duration_seconds"),
                             {0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5});
  reg.set_buckets_for_metric(obs::matcher::full("db_query_duration_seconds"),
                             {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5});
}

/// One request answered on the public port. `route` is a template or "unmatched".
inline void http_request(std::string_view method, std::string_view route, std::string_view status, double seconds) {
  OBS_COUNTER_FAMILY("http_requests_total", "method", "route", "status").with(method, route, status).increment();
  OBS_HISTOGRAM_FAMILY("http_request_duration_seconds", "method", "route").with(method, route).record(seconds);
}

/// A WebSocket client connected / disconnected.
inline void client_connected() { OBS_GAUGE("active_connections").increment(); }
inline void client_disconnected() { OBS_GAUGE("active_connections").decrement(); }

/// One WebSocket message written to / read from a client.
inline void ws_message_sent() { OBS_COUNTER("ws_messages_sent_total").increment(); }
inline void ws_message_received() { OBS_COUNTER("ws_messages_received_total").increment(); }

/// A message (or ACK) refused by a full queue.
inline void message_dropped() { OBS_COUNTER("channel_dropped_messages_total").increment(); }

/// Registers channel_queue_depth{type} as callbacks that read the two depths
/// at scrape time; they stay registered while the result lives.
[[nodiscard]] inline std::array<obs::callback_registration, 2> watch_queue_depths(
    const std::atomic<std::size_t>& outbound, const std::atomic<std::size_t>& ack) {
  obs::registry& reg = obs::global_registry();
  // Ordering: relaxed; a depth is a sample, it orders nothing.
  return {reg.gauge_callback("channel_queue_depth", {{"type", "outbound"}},
                             [&outbound] { return static_cast<double>(outbound.load(std::memory_order_relaxed)); }),
          reg.gauge_callback("channel_queue_depth", {{"type", "ack"}},
                             [&ack] { return static_cast<double>(ack.load(std::memory_order_relaxed)); })};
}

}  // namespace gateway::metrics
