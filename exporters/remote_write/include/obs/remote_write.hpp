// obs::remote_write: pushes a registry's metrics to a Prometheus remote_write
// 1.0 receiver (https://prometheus.io/docs/specs/remote_write_spec/):
// Prometheus with --web.enable-remote-write-receiver, Mimir, Thanos, Cortex,
// VictoriaMetrics. Push when nothing can scrape you (a batch job that exits
// first, a process behind NAT, a short-lived container); be scraped when
// something can, which costs nothing between scrapes.
//
//   obs::remote_write::pusher push(reg, {.url = "http://127.0.0.1:9090/api/v1/write",
//                                        .external_labels = {{"job", "batch"}, {"instance", host}}});
//   ... // every interval, and once more when `push` is destroyed
//
// The pusher snapshots the registry on its own thread every `interval`,
// encodes the snapshot as WriteRequests (`encode`), compresses them with
// snappy and sends them in order, retrying what the receiver may take later
// (5xx, 429, no answer) with capped exponential backoff and jitter, never
// what it refused (other 4xx). Requests wait in a queue bounded in bytes and
// samples; when it is full the oldest requests are dropped, since newer
// samples supersede them. Everything is counted in the registry itself:
//
//   obs_remote_write_samples_sent_total{endpoint}      accepted by the receiver
//   obs_remote_write_samples_failed_total{endpoint}    refused (4xx but 429), not retried
//   obs_remote_write_samples_dropped_total{endpoint}   dropped from a full queue or at the shutdown deadline
//   obs_remote_write_retries_total{endpoint}           requests sent again
//   obs_remote_write_queue_bytes{endpoint}             compressed bytes waiting
//   obs_remote_write_queue_samples{endpoint}           samples waiting
//   obs_remote_write_last_success_timestamp_seconds{endpoint}
//
// Recording never waits for the pusher: it reads snapshots, as a scrape does.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "obs/detail/config.hpp"
#include "obs/snapshot.hpp"

OBS_NAMESPACE_BEGIN

class registry;  // obs/registry.hpp

namespace remote_write {

/// Labels added to every series, as Prometheus's `external_labels`.
using label_list = std::vector<std::pair<std::string, std::string>>;

/// How a snapshot becomes WriteRequests.
struct encode_options {
  /// Added to every series unless the series has the label itself.
  label_list external_labels{};
  /// The samples' timestamp, in milliseconds since the Unix epoch.
  std::int64_t timestamp_ms = 0;
  /// Sends native histograms as such (a receiver needs native histograms
  /// enabled to take them), besides their classic series.
  bool native_histograms = false;
  /// A request holds at most this many samples (a series is never split).
  std::size_t max_samples_per_request = 2000;
};

/// One protobuf-encoded `prometheus.WriteRequest`, not yet compressed.
struct write_request {
  std::string bytes;
  std::size_t samples = 0;  ///< samples and native histograms in it
};

/// The snapshot as WriteRequests: every sample a text scrape shows, named as
/// it names them (`x_total`, `x_bucket{le}`, `x_sum`, `x_count`,
/// `x{quantile}`), with `__name__`, labels sorted, exemplars of counters and
/// buckets, and metadata (type, help, unit) per family.
/// https://github.com/prometheus/prometheus/blob/main/prompb/types.proto
[[nodiscard]] OBS_INLINE std::vector<write_request> encode(const snapshot& s, const encode_options& options);

/// `bytes` compressed in snappy's block format, as remote_write sends bodies.
[[nodiscard]] OBS_INLINE std::string compress(std::string_view bytes);

/// What a pusher does; see the file comment.
struct options {
  /// `http[s]://host[:port][/path]`: where to send. https verifies the
  /// receiver's certificate and host name (OpenSSL, through Beast).
  std::string url = "http://127.0.0.1:9090/api/v1/write";
  /// How often to push.
  std::chrono::milliseconds interval{15000};
  label_list external_labels{};
  bool native_histograms = false;
  std::size_t max_samples_per_request = 2000;
  /// The queue's bounds: compressed bytes and samples waiting to be sent.
  std::size_t max_queue_bytes = 16u << 20;
  std::size_t max_queue_samples = 1'000'000;
  /// Connect, write and read of one request.
  std::chrono::milliseconds timeout{10000};
  /// Backoff between retries of one request: doubles from min to max, each
  /// wait drawn uniformly from [backoff / 2, backoff].
  std::chrono::milliseconds min_backoff{30};
  std::chrono::milliseconds max_backoff{5000};
  /// How long destruction may spend sending what is queued.
  std::chrono::milliseconds shutdown_deadline{5000};
  /// https: a PEM file of the authorities to trust instead of the system's.
  std::string ca_file{};
  /// `Authorization: Bearer ...` when set.
  std::string bearer_token{};
  /// `Authorization: Basic ...` when the user is set.
  std::string basic_auth_user{}, basic_auth_password{};
};

/// Pushes a registry on its own thread; see the file comment.
class pusher {
 public:
  /// Starts pushing `reg`, which must outlive the pusher, and registers the
  /// pusher's own metrics in it. Throws obs::error for an invalid url, and
  /// boost::system::system_error for a `ca_file` it cannot read.
  pusher(registry& reg, options o);
  /// Pushes once more and sends what is queued, for at most
  /// `shutdown_deadline`; drops (and counts) the rest.
  ~pusher();
  pusher(const pusher&) = delete;
  pusher& operator=(const pusher&) = delete;

  /// Takes and queues a snapshot now, without waiting for the interval.
  void push_now();

 private:
  struct state;
  std::unique_ptr<state> state_;
};

}  // namespace remote_write
OBS_NAMESPACE_END

#if OBS_HEADER_ONLY
#include "obs/remote_write-inl.hpp"
#endif
