// Scrape cost: snapshot + render of 10,000 counter series (10 metrics of
// 1,000 series, two labels each) and 1,000 histogram series (11 default
// buckets), in every obs format and through prometheus-cpp's Collect +
// TextSerializer on the same data; and the text render of a million counter
// series (10 metrics of 100,000), where the per-series costs dominate.
// The render_only cases render one snapshot taken up front, text against
// protobuf (with OBS_BENCH_PROTOBUF), and report ns per series (`series`
// counter: seconds per series).
//
// Each case reports the time per render, MB/s of output (`bytes_per_second`),
// the output size (`bytes`) and heap allocations per render (`allocs/op`).
#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "alloc_counter.hpp"
#include "bench_values.hpp"
#include "obs/json.hpp"
#include "obs/openmetrics.hpp"
#include "obs/prometheus.hpp"
#include "obs/registry.hpp"
#if OBS_BENCH_PROTOBUF
#include "obs/protobuf.hpp"
#endif
#if OBS_BENCH_REMOTE_WRITE
#include "obs/remote_write.hpp"
#endif

#if OBS_BENCH_PROMETHEUS_CPP
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#endif

namespace {

/// What a registry holds for a case.
struct dataset {
  int counter_metrics;
  int series_per_metric;
  int histogram_series;
};
constexpr dataset scrape{10, 1000, 1000};
constexpr dataset million{10, 100000, 0};
constexpr int observations_per_histogram = 8;

std::string counter_name(int metric) { return "app_requests_" + std::to_string(metric) + "_total"; }
std::string route(int i) { return "/api/v1/resource/" + std::to_string(i); }
std::uint64_t counter_value(int metric, int i) { return static_cast<std::uint64_t>(metric * 7919 + i * 31 + 1); }

const char* const counter_help = "Requests served, by route and status.";
const char* const histogram_name = "app_request_duration_seconds";
const char* const histogram_help = "Time to serve a request, by route.";

obs::registry* obs_registry_of(const dataset& d) {
  auto* r = new obs::registry;
  r->set_cardinality_limit(static_cast<std::size_t>(d.series_per_metric) + 1);
  for (int m = 0; m < d.counter_metrics; ++m) {
    std::string name = counter_name(m);
    r->describe_counter(name, "", counter_help);
    obs::counter_family family = r->counter_family(name, {"route", "status"});
    for (int i = 0; i < d.series_per_metric; ++i) family.with(route(i), "200").increment(counter_value(m, i));
  }
  if (d.histogram_series == 0) return r;
  r->describe_histogram(histogram_name, "seconds", histogram_help);
  obs::histogram_family family = r->histogram_family(histogram_name, {"route"});
  for (int i = 0; i < d.histogram_series; ++i)
    for (int k = 0; k < observations_per_histogram; ++k)
      family.with(route(i)).record(obs_bench::latency_seconds(static_cast<std::size_t>(i * observations_per_histogram + k)));
  return r;
}

obs::registry& obs_data() {
  static obs::registry* reg = obs_registry_of(scrape);
  return *reg;
}

obs::registry& obs_million() {
  static obs::registry* reg = obs_registry_of(million);
  return *reg;
}

/// Runs `render` (which returns the rendered body) once to warm up, then
/// per iteration, and reports size, throughput and allocations.
template <class Render>
void run_render(benchmark::State& state, Render render) {
  std::size_t bytes = render().size();
  obs_bench::alloc_meter meter;
  for (auto _ : state) {
    std::string body = render();
    benchmark::DoNotOptimize(body.data());
  }
  meter.report(state);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(bytes));
  state.counters["bytes"] = static_cast<double>(bytes);
}

void obs_prometheus(benchmark::State& state) {
  obs::registry& reg = obs_data();
  run_render(state, [&] { return obs::prometheus::render(reg.snapshot()); });
}

void obs_prometheus_million(benchmark::State& state) {
  obs::registry& reg = obs_million();
  run_render(state, [&] { return obs::prometheus::render(reg.snapshot()); });
}

void obs_openmetrics(benchmark::State& state) {
  obs::registry& reg = obs_data();
  run_render(state, [&] { return obs::openmetrics::render(reg.snapshot()); });
}

void obs_json(benchmark::State& state) {
  obs::registry& reg = obs_data();
  run_render(state, [&] { return obs::json::render(reg.snapshot()); });
}

#if OBS_BENCH_PROTOBUF
void obs_protobuf(benchmark::State& state) {
  obs::registry& reg = obs_data();
  run_render(state, [&] { return obs::protobuf::render(reg.snapshot()); });
}
#endif

/// Renders one snapshot, taken before timing, into a string reused across
/// iterations (as a server does), and reports the time per series.
template <class RenderTo>
void run_render_only(benchmark::State& state, RenderTo render_to) {
  const obs::snapshot snap = obs_data().snapshot();
  std::size_t series = 0;
  for (const obs::family_snapshot& f : snap.families()) series += f.series.size();
  std::string body;
  render_to(snap, body);
  const std::size_t bytes = body.size();
  obs_bench::alloc_meter meter;
  for (auto _ : state) {
    body.clear();
    render_to(snap, body);
    benchmark::DoNotOptimize(body.data());
  }
  meter.report(state);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(bytes));
  state.counters["bytes"] = static_cast<double>(bytes);
  state.counters["series"] = benchmark::Counter(static_cast<double>(series),
                                                benchmark::Counter::kIsIterationInvariantRate |
                                                    benchmark::Counter::kInvert);
}

void render_only_prometheus(benchmark::State& state) {
  run_render_only(state, [](const obs::snapshot& s, std::string& out) { obs::prometheus::render_to(s, out); });
}

void render_only_openmetrics(benchmark::State& state) {
  run_render_only(state, [](const obs::snapshot& s, std::string& out) { obs::openmetrics::render_to(s, out); });
}

#if OBS_BENCH_PROTOBUF
void render_only_protobuf(benchmark::State& state) {
  run_render_only(state, [](const obs::snapshot& s, std::string& out) { obs::protobuf::render_to(s, out); });
}
#endif

#if OBS_BENCH_REMOTE_WRITE
/// What a remote_write push costs beside a text render of the same
/// snapshot: encoding WriteRequests and compressing them with snappy, per
/// sample (every bucket, sum and count is one), and the bytes each sample
/// costs on the wire.
void remote_write_push(benchmark::State& state) {
  const obs::snapshot snap = obs_data().snapshot();
  obs::remote_write::encode_options o;
  o.external_labels = {{"job", "bench"}, {"instance", "127.0.0.1:9464"}};
  std::size_t samples = 0, wire = 0;
  for (auto _ : state) {
    samples = wire = 0;
    for (const obs::remote_write::write_request& r : obs::remote_write::encode(snap, o)) {
      const std::string body = obs::remote_write::compress(r.bytes);
      samples += r.samples;
      wire += body.size();
      benchmark::DoNotOptimize(body.data());
    }
  }
  std::string text;
  obs::prometheus::render_to(snap, text);
  state.counters["samples"] = benchmark::Counter(static_cast<double>(samples),
                                                 benchmark::Counter::kIsIterationInvariantRate |
                                                     benchmark::Counter::kInvert);
  state.counters["wire_bytes_per_sample"] = static_cast<double>(wire) / static_cast<double>(samples);
  state.counters["text_bytes_per_sample"] = static_cast<double>(text.size()) / static_cast<double>(samples);
}
#endif

// The snapshot alone, to split a render's cost between reading the live
// series and formatting.
void obs_snapshot(benchmark::State& state) {
  obs::registry& reg = obs_data();
  reg.snapshot();
  obs_bench::alloc_meter meter;
  for (auto _ : state) {
    obs::snapshot snap = reg.snapshot();
    benchmark::DoNotOptimize(snap.families().data());
  }
  meter.report(state);
}

#if OBS_BENCH_PROMETHEUS_CPP

prometheus::Registry* promcpp_registry_of(const dataset& d) {
  auto* r = new prometheus::Registry;
  for (int m = 0; m < d.counter_metrics; ++m) {
    auto& family = prometheus::BuildCounter().Name(counter_name(m)).Help(counter_help).Register(*r);
    for (int i = 0; i < d.series_per_metric; ++i)
      family.Add({{"route", route(i)}, {"status", "200"}}).Increment(static_cast<double>(counter_value(m, i)));
  }
  if (d.histogram_series == 0) return r;
  auto& family = prometheus::BuildHistogram().Name(histogram_name).Help(histogram_help).Register(*r);
  const prometheus::Histogram::BucketBoundaries bounds{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  for (int i = 0; i < d.histogram_series; ++i) {
    prometheus::Histogram& h = family.Add({{"route", route(i)}}, bounds);
    for (int k = 0; k < observations_per_histogram; ++k)
      h.Observe(obs_bench::latency_seconds(static_cast<std::size_t>(i * observations_per_histogram + k)));
  }
  return r;
}

prometheus::Registry& promcpp_data() {
  static prometheus::Registry* reg = promcpp_registry_of(scrape);
  return *reg;
}

prometheus::Registry& promcpp_million() {
  static prometheus::Registry* reg = promcpp_registry_of(million);
  return *reg;
}

void promcpp_text(benchmark::State& state) {
  prometheus::Registry& reg = promcpp_data();
  const prometheus::TextSerializer serializer;
  run_render(state, [&] { return serializer.Serialize(reg.Collect()); });
}

void promcpp_text_million(benchmark::State& state) {
  prometheus::Registry& reg = promcpp_million();
  const prometheus::TextSerializer serializer;
  run_render(state, [&] { return serializer.Serialize(reg.Collect()); });
}

#endif

[[maybe_unused]] const bool registered = [] {
  auto add = [](const char* name, void (*fn)(benchmark::State&)) {
    benchmark::RegisterBenchmark(name, fn)->Unit(benchmark::kMillisecond);
  };
  add("render_text/obs_prometheus", obs_prometheus);
#if OBS_BENCH_PROMETHEUS_CPP
  add("render_text/promcpp_text", promcpp_text);
#endif
  add("render_openmetrics/obs", obs_openmetrics);
  add("render_json/obs", obs_json);
#if OBS_BENCH_PROTOBUF
  add("render_protobuf/obs", obs_protobuf);
#endif
  benchmark::RegisterBenchmark("render_only/prometheus", render_only_prometheus)->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("render_only/openmetrics", render_only_openmetrics)->Unit(benchmark::kMicrosecond);
#if OBS_BENCH_PROTOBUF
  benchmark::RegisterBenchmark("render_only/protobuf", render_only_protobuf)->Unit(benchmark::kMicrosecond);
#endif
#if OBS_BENCH_REMOTE_WRITE
  benchmark::RegisterBenchmark("remote_write/encode_and_compress", remote_write_push)->Unit(benchmark::kMicrosecond);
#endif
  add("render_snapshot/obs", obs_snapshot);
  add("render_text_million/obs_prometheus", obs_prometheus_million);
#if OBS_BENCH_PROMETHEUS_CPP
  add("render_text_million/promcpp_text", promcpp_text_million);
#endif
  return true;
}();

}  // namespace
