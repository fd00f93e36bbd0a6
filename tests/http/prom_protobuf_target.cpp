// A scrape target for the Prometheus protobuf integration test
// (prometheus_protobuf_scrape.py): one hand-built snapshot holding every
// metric type, a native histogram and exemplars, served by two endpoints on
// ephemeral loopback ports, one offering the protobuf format and one only
// the text formats (so Prometheus reads it as OpenMetrics). Prints
// "ports <protobuf> <text>" on stdout and runs until SIGTERM or SIGINT.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>

#include "obs/http.hpp"
#include "obs/json.hpp"
#include "obs/openmetrics.hpp"
#include "obs/prometheus.hpp"
#include "obs/protobuf.hpp"
#include "obs/snapshot.hpp"

namespace {

// The values prometheus_protobuf_scrape.py expects; keep the two in step.
obs::snapshot make_snapshot(double now) {
  obs::snapshot_builder b;
  b.add_family("demo_orders_total", obs::metric_type::counter, "Orders taken.");
  const obs::label_view order_trace[] = {{"trace_id", "c0ffee"}};
  b.add_series({{"shop", "east"}}, obs::number::integer(42));
  b.add_exemplars({{order_trace, 1, now - 5}});

  b.add_family("demo_queue_depth", obs::metric_type::gauge, "Messages waiting.");
  b.add_series({}, obs::number::floating(7.5));

  b.add_family("demo_build_info", obs::metric_type::info, "Build facts.");
  b.add_series({{"version", "1.2.3"}}, obs::number::integer(1));

  b.add_family("demo_rpc_seconds", obs::metric_type::summary, "RPC latency.");
  b.add_summary_series({{"service", "auth"}}, {{0.5, 0.012}, {0.99, 0.25}}, 17.5, 1000);

  // Classic: 10 at 0.05, 30 at 0.3, 60 at 0.7; exemplars on le=0.1 and le=1.
  b.add_family("demo_request_duration_seconds", obs::metric_type::histogram, "Request latency.");
  const obs::label_view fast[] = {{"trace_id", "fa57"}};
  const obs::label_view slow[] = {{"trace_id", "5104"}};
  b.add_histogram_series({}, {{0.1, 10}, {0.5, 40}, {1, 100}}, 10 * 0.05 + 30 * 0.3 + 60 * 0.7, 100);
  b.add_exemplars({{fast, 0.05, std::nullopt}, {slow, 0.7, std::nullopt}});

  // Native, schema 0 (bucket i covers (2^(i-1), 2^i]): 2 in (-2,-1], 2 in
  // the zero bucket, 4 in (1,2], 2 in (2,4], 2 in (8,16]; sum 33.
  const obs::bucket_span positive_spans[] = {{1, 2}, {1, 1}};
  const std::uint64_t positive_counts[] = {4, 2, 2};
  const obs::bucket_span negative_spans[] = {{1, 1}};
  const std::uint64_t negative_counts[] = {2};
  obs::native_histogram_snapshot native;
  native.schema = 0;
  native.zero_threshold = 0.001;
  native.zero_count = 2;
  native.positive_spans = positive_spans;
  native.positive_counts = positive_counts;
  native.negative_spans = negative_spans;
  native.negative_counts = negative_counts;
  b.add_family("demo_native_seconds", obs::metric_type::histogram, "Native latency.");
  const obs::label_view native_trace[] = {{"trace_id", "4a71"}};
  const obs::label_view route[] = {{"route", "/"}};
  b.add_native_histogram_series(route, native, {}, 33, 12);
  b.add_exemplars({{native_trace, 1.5, now - 4}});

  // Native with classic buckets beside it (0.5, 1, 2 over the same 12
  // observations): Prometheus 2.42 keeps only the native series.
  const obs::bucket_count classic[] = {{0.5, 4}, {1, 4}, {2, 8}};
  b.add_family("demo_mixed_seconds", obs::metric_type::histogram, "Native and classic.");
  b.add_native_histogram_series({}, native, classic, 33, 12);
  return std::move(b).build();
}

}  // namespace

int main() {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  auto snap = std::make_shared<const obs::snapshot>(make_snapshot(now));
  const obs::http::render_fn render = [snap](obs::http::format f) {
    std::string body;
    switch (f) {
      case obs::http::format::openmetrics: obs::openmetrics::render_to(*snap, body); break;
      case obs::http::format::json: obs::json::render_to(*snap, body); break;
      case obs::http::format::protobuf: obs::protobuf::render_to(*snap, body); break;
      case obs::http::format::prometheus_text: obs::prometheus::render_to(*snap, body); break;
    }
    return body;
  };

  obs::http::options with_protobuf;
  with_protobuf.port = 0;
  with_protobuf.formats = with_protobuf.formats.with(obs::http::format::protobuf);
  obs::http::server proto(render, with_protobuf);
  proto.start();
  obs::http::options text_only;
  text_only.port = 0;
  obs::http::server text(render, text_only);
  text.start();
  std::printf("ports %u %u\n", static_cast<unsigned>(proto.port()), static_cast<unsigned>(text.port()));
  std::fflush(stdout);

  int sig = 0;
  sigwait(&stop, &sig);
  proto.stop();
  text.stop();
  return 0;
}
