// Every metric the gateway exports, in the order of design doc 005 (section
// 3), as the handles hot files record through: a call site is one line,
// `metrics.ws_messages_sent.increment()`. metrics.cpp registers them with
// their HELP texts and buckets.
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
//   not in the seed    http_connections_refused_total              counter
//                      http_accept_errors_total                    counter
//                      db_errors_total                             counter
//                      s3_errors_total                             counter
//
// http_request_duration_seconds is a native histogram besides its classic
// buckets, and carries the request's W3C trace id as exemplar when it sent
// a `traceparent`: protobuf and OpenMetrics scrapes see both.
//
// The four durations are timed by OBS_SCOPED_TIMER at the top of the function
// named (a timer covers every exit, exceptions included), so their names
// appear there too.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <string_view>

#include <obs/handles.hpp>
#include <trace_context/traceparent.hpp>

namespace gateway {

/// The handles, in the design doc's order.
struct metric_handles {
  obs::counter_family_handle http_requests;            ///< by method, route, status
  obs::histogram_family_handle http_request_duration;  ///< by method, route
  obs::gauge_handle active_connections;
  obs::counter_handle ws_messages_sent;
  obs::counter_handle ws_messages_received;
  obs::counter_handle channel_dropped_messages;
  obs::counter_handle http_connections_refused;
  obs::counter_handle http_accept_errors;
  obs::counter_handle db_errors;
  obs::counter_handle s3_errors;
};

/// The gateway's metrics; register_metrics() must fill them before anything
/// records.
inline metric_handles metrics;

/// Registers every metric in obs's global registry, with HELP texts and
/// buckets, and points `metrics` at them; call once at startup.
void register_metrics();

/// Records one request's duration, with its trace id as exemplar if it has one.
void record_request_duration(std::string_view method, std::string_view route, double seconds,
                             const trace_context::request_trace& trace);

/// channel_queue_depth{type}: callbacks that read the two depths at scrape
/// time, registered while this lives.
class queue_depth_gauges {
 public:
  queue_depth_gauges(const std::atomic<std::size_t>& outbound, const std::atomic<std::size_t>& ack);
  ~queue_depth_gauges();
  queue_depth_gauges(const queue_depth_gauges&) = delete;
  queue_depth_gauges& operator=(const queue_depth_gauges&) = delete;

 private:
  struct registrations;
  std::unique_ptr<registrations> registrations_;
};

}  // namespace gateway
