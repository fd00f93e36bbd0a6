#include "metrics.hpp"

#include <array>
#include <optional>

#include <obs/callback_registration.hpp>
#include <obs/histogram_config.hpp>
#include <obs/metrics.hpp>
#include <obs/registry.hpp>

namespace gateway {

void register_metrics() {
  obs::registry& reg = obs::global_registry();
  reg.describe_counter("http_requests_total", "", "HTTP requests on the public port by method, route template and status.");
  reg.describe_histogram("http_request_duration_seconds", "seconds",
                         "HTTP request latency on the public port by method and route template.");
  reg.describe_gauge("active_connections", "", "Current number of connected WebSocket clients.");
  reg.describe_counter("ws_messages_sent_total", "", "WebSocket messages written to clients.");
  reg.describe_counter("ws_messages_received_total", "", "WebSocket messages read from clients (messages, ACKs, joins).");
  reg.describe_gauge("channel_queue_depth", "",
                     "Items waiting in internal queues: outbound (all connections' send queues) and ack.");
  reg.describe_counter("channel_dropped_messages_total", "",
                       "Messages dropped because an outbound or the ack queue was full.");
  reg.describe_histogram("db_pool_wait_duration_seconds", "seconds",
                         "Time spent waiting for a database connection from the pool.");
  reg.describe_histogram("db_query_duration_seconds", "seconds", "Time spent executing database queries.");
  reg.describe_histogram("s3_upload_duration_seconds", "seconds", "Time to upload an attachment to S3.");
  reg.describe_histogram("s3_download_duration_seconds", "seconds", "Time to download an attachment from S3.");
  reg.describe_counter("http_connections_refused_total", "",
                       "Public connections answered 503 and closed at once because --max-connections were open.");
  reg.describe_counter("http_accept_errors_total", "",
                       "Failed accepts on the public port (out of descriptors, most often); accepting resumes "
                       "after a backoff.");
  reg.describe_counter("db_errors_total", "",
                       "Database calls that failed: no connection within --db-acquire-timeout-ms, no connection "
                       "at all, a lost connection or a query error; the log has the detail.");
  reg.describe_counter("s3_errors_total", "",
                       "Object store calls that failed: unreachable, no answer in time or an unexpected status; "
                       "the log has the detail.");

  // Native buckets aggregate across instances at any quantile; the classic
  // ones stay for text scrapes and existing dashboards.
  reg.set_histogram_config(obs::matcher::full("http_request_duration_seconds"),
                           obs::histogram_config::explicit_buckets(obs::default_buckets()).with_native());

  // Series without labels exist from the start, so that rate() and
  // increase() have a zero to start from.
  metrics.http_requests = reg.counter_family("http_requests_total", {"method", "route", "status"});
  metrics.http_request_duration = reg.histogram_family("http_request_duration_seconds", {"method", "route"});
  metrics.active_connections = reg.gauge("active_connections");
  metrics.ws_messages_sent = reg.counter("ws_messages_sent_total");
  metrics.ws_messages_received = reg.counter("ws_messages_received_total");
  metrics.channel_dropped_messages = reg.counter("channel_dropped_messages_total");
  metrics.http_connections_refused = reg.counter("http_connections_refused_total");
  metrics.http_accept_errors = reg.counter("http_accept_errors_total");
  metrics.db_errors = reg.counter("db_errors_total");
  metrics.s3_errors = reg.counter("s3_errors_total");
  // Naming a timer's site registers its series, with no observation (the
  // start only uses the database's, which thus exist already).
  OBS_HISTOGRAM("s3_upload_duration_seconds");
  OBS_HISTOGRAM("s3_download_duration_seconds");

  // A pooled connection is usually free at once: resolve the sub-millisecond range.
  reg.set_buckets_for_metric(obs::matcher::full("db_pool_wait_duration_seconds"),
                             {0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5});
  reg.set_buckets_for_metric(obs::matcher::full("db_query_duration_seconds"),
                             {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5});
}

void record_request_duration(std::string_view method, std::string_view route, double seconds,
                             const trace_context::request_trace& trace) {
  if (const std::optional<std::string_view> id = trace.id())
    metrics.http_request_duration.with(method, route).record(seconds, {{"trace_id", *id}});
  else
    metrics.http_request_duration.with(method, route).record(seconds);
}

struct queue_depth_gauges::registrations {
  std::array<obs::callback_registration, 2> gauges;
};

queue_depth_gauges::queue_depth_gauges(const std::atomic<std::size_t>& outbound, const std::atomic<std::size_t>& ack) {
  obs::registry& reg = obs::global_registry();
  // Ordering: relaxed; a depth is a sample, it orders nothing.
  registrations_.reset(new registrations{
      {reg.gauge_callback("channel_queue_depth", {{"type", "outbound"}},
                          [&outbound] { return static_cast<double>(outbound.load(std::memory_order_relaxed)); }),
       reg.gauge_callback("channel_queue_depth", {{"type", "ack"}},
                          [&ack] { return static_cast<double>(ack.load(std::memory_order_relaxed)); })}});
}

queue_depth_gauges::~queue_depth_gauges() = default;

}  // namespace gateway
