// Recording hot paths: obs against prometheus-cpp and two hardware floors, in
// one binary, each case at 1, 2 and 4 threads (or OBS_BENCH_THREADS) on one shared series.
//
// Cases are named `<group>/<side>`: `bench/run` matches sides of a group into
// ratios. Sides are registered alternately (and `bench/run` also shuffles
// repetitions) so that noise from the shared machine hits every side of a
// comparison alike. Every case reports `allocs/op` from the steady state: one
// warm-up call per thread (which takes the thread's slot and creates the
// series) runs before counting starts.
#include <benchmark/benchmark.h>

#include <array>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "alloc_counter.hpp"
#include "bench_values.hpp"
#include "obs/metrics.hpp"
#include "obs/registry.hpp"

#if OBS_BENCH_PROMETHEUS_CPP
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/summary.h>
#endif

namespace {

using obs_bench::latency_seconds;

/// Runs `op` once per iteration after one warm-up call, and reports the
/// steady-state allocations per call.
template <class Op>
void run(benchmark::State& state, Op op) {
  op();
  obs_bench::alloc_meter meter;
  for (auto _ : state) op();
  meter.report(state);
}

// --- Hardware floors ---------------------------------------------------------

// One cache line per thread: what a per-thread shard costs when nothing else
// (lookup, thread-local access) is in the way.
struct alignas(64) padded_slot {
  std::atomic<std::uint64_t> value{0};
};
padded_slot floor_slots[64];

void floor_padded_slot(benchmark::State& state) {
  std::atomic<std::uint64_t>& cell = floor_slots[state.thread_index()].value;
  // Ordering: relaxed; each thread is its slot's only writer.
  run(state, [&] { cell.store(cell.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed); });
}

alignas(64) std::atomic<std::uint64_t> floor_shared{0};

void floor_shared_atomic(benchmark::State& state) {
  // Ordering: relaxed; a plain shared counter, as most libraries do it.
  run(state, [] { floor_shared.fetch_add(1, std::memory_order_relaxed); });
}

// --- obs ---------------------------------------------------------------------

// Handles and families live in their own registry; only the macros use the
// global one. Never destroyed, like the global registry.
obs::registry& bench_registry() {
  static obs::registry* reg = [] {
    auto* r = new obs::registry;
    r->set_histogram_config(obs::matcher::full("bench_highres_seconds"),
                            obs::histogram_config::high_resolution());
    r->set_histogram_config(obs::matcher::full("bench_native_seconds"), obs::histogram_config::native());
    r->set_histogram_config(obs::matcher::full("bench_both_seconds"),
                            obs::histogram_config::explicit_buckets(obs::default_buckets()).with_native());
    return r;
  }();
  return *reg;
}

// Runtime label values: strings the compiler cannot see through.
struct runtime_labels {
  std::string method = std::string("GE") + "T";
  std::string route = std::string("/api/v1/users/") + "{id}";
};
const runtime_labels& labels() {
  static const runtime_labels values;
  return values;
}

void obs_counter_macro(benchmark::State& state) {
  run(state, [] { OBS_COUNTER("bench_macro_total", "site", "literal").increment(); });
}

void obs_counter_handle(benchmark::State& state) {
  static const obs::counter handle = bench_registry().counter("bench_handle_total", {{"site", "handle"}});
  run(state, [] { handle.increment(); });
}

void obs_labels_macro(benchmark::State& state) {
  const runtime_labels& l = labels();
  run(state, [&] { OBS_COUNTER_FAMILY("bench_labels_macro_total", "method", "route").with(l.method, l.route).increment(); });
}

void obs_labels_family(benchmark::State& state) {
  static const obs::counter_family family = bench_registry().counter_family("bench_labels_total", {"method", "route"});
  const runtime_labels& l = labels();
  run(state, [&] { family.with(l.method, l.route).increment(); });
}

void obs_gauge_set(benchmark::State& state) {
  static const obs::gauge gauge = bench_registry().gauge("bench_gauge_set");
  run(state, [i = std::size_t{0}]() mutable { gauge.set(latency_seconds(i++)); });
}

// A gauge both moved by adds and set: every set then starts a new epoch
// (a compare-exchange and two stores; see gauge_cells.hpp).
void obs_gauge_set_after_adds(benchmark::State& state) {
  static const obs::gauge gauge = [] {
    obs::gauge g = bench_registry().gauge("bench_gauge_set_after_adds");
    g.increment();
    return g;
  }();
  run(state, [i = std::size_t{0}]() mutable { gauge.set(latency_seconds(i++)); });
}

void obs_gauge_increment(benchmark::State& state) {
  static const obs::gauge gauge = bench_registry().gauge("bench_gauge_increment");
  run(state, [] { gauge.increment(); });
}

void obs_histogram_explicit(benchmark::State& state) {
  static const obs::histogram histogram = bench_registry().histogram("bench_explicit_seconds");
  run(state, [i = std::size_t{0}]() mutable { histogram.record(latency_seconds(i++)); });
}

void obs_histogram_high_resolution(benchmark::State& state) {
  static const obs::histogram histogram = bench_registry().histogram("bench_highres_seconds");
  run(state, [i = std::size_t{0}]() mutable { histogram.record(latency_seconds(i++)); });
}

void obs_histogram_native(benchmark::State& state) {
  static const obs::histogram histogram = bench_registry().histogram("bench_native_seconds");
  run(state, [i = std::size_t{0}]() mutable { histogram.record(latency_seconds(i++)); });
}

// Explicit and native buckets at once, as the example services record requests.
void obs_histogram_explicit_and_native(benchmark::State& state) {
  static const obs::histogram histogram = bench_registry().histogram("bench_both_seconds");
  run(state, [i = std::size_t{0}]() mutable { histogram.record(latency_seconds(i++)); });
}

// A W3C trace id, as the services attach to request durations.
constexpr std::string_view bench_trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";

void obs_histogram_exemplar(benchmark::State& state) {
  static const obs::histogram histogram = bench_registry().histogram("bench_exemplar_seconds");
  run(state, [i = std::size_t{0}]() mutable { histogram.record(latency_seconds(i++), {{"trace_id", bench_trace_id}}); });
}

void obs_counter_exemplar(benchmark::State& state) {
  static const obs::counter counter = bench_registry().counter("bench_exemplar_total");
  run(state, [] { counter.increment(1, {{"trace_id", bench_trace_id}}); });
}

// --- prometheus-cpp ----------------------------------------------------------

#if OBS_BENCH_PROMETHEUS_CPP

// The Prometheus client libraries' default buckets, as obs::default_buckets.
const prometheus::Histogram::BucketBoundaries& default_boundaries() {
  static const prometheus::Histogram::BucketBoundaries bounds{0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                              0.5,   1,    2.5,   5,    10};
  return bounds;
}

prometheus::Registry& promcpp_registry() {
  static auto* reg = new prometheus::Registry;
  return *reg;
}

void promcpp_counter(benchmark::State& state) {
  static prometheus::Counter& counter =
      prometheus::BuildCounter().Name("promcpp_counter_total").Register(promcpp_registry()).Add({{"site", "handle"}});
  run(state, [] { counter.Increment(); });
}

void promcpp_labels(benchmark::State& state) {
  static prometheus::Family<prometheus::Counter>& family =
      prometheus::BuildCounter().Name("promcpp_labels_total").Register(promcpp_registry());
  const runtime_labels& l = labels();
  run(state, [&] { family.Add({{"method", l.method}, {"route", l.route}}).Increment(); });
}

void promcpp_gauge_set(benchmark::State& state) {
  static prometheus::Gauge& gauge =
      prometheus::BuildGauge().Name("promcpp_gauge_set").Register(promcpp_registry()).Add({});
  run(state, [i = std::size_t{0}]() mutable { gauge.Set(latency_seconds(i++)); });
}

void promcpp_gauge_increment(benchmark::State& state) {
  static prometheus::Gauge& gauge =
      prometheus::BuildGauge().Name("promcpp_gauge_increment").Register(promcpp_registry()).Add({});
  run(state, [] { gauge.Increment(); });
}

void promcpp_histogram(benchmark::State& state) {
  static prometheus::Histogram& histogram = prometheus::BuildHistogram()
                                                .Name("promcpp_histogram_seconds")
                                                .Register(promcpp_registry())
                                                .Add({}, default_boundaries());
  run(state, [i = std::size_t{0}]() mutable { histogram.Observe(latency_seconds(i++)); });
}

void promcpp_summary(benchmark::State& state) {
  static prometheus::Summary& summary =
      prometheus::BuildSummary()
          .Name("promcpp_summary_seconds")
          .Register(promcpp_registry())
          .Add({}, prometheus::Summary::Quantiles{{0.5, 0.05}, {0.9, 0.01}, {0.99, 0.001}});
  run(state, [i = std::size_t{0}]() mutable { summary.Observe(latency_seconds(i++)); });
}

#endif

// --- Registration, interleaved ------------------------------------------------

/// The thread counts of every case: OBS_BENCH_THREADS ("1,2,4,8,16"), or 1, 2, 4.
std::vector<int> thread_counts() {
  std::vector<int> counts;
  const char* env = std::getenv("OBS_BENCH_THREADS");
  std::string list = env != nullptr && *env != '\0' ? env : "1,2,4";
  for (std::size_t at = 0; at < list.size();) {
    std::size_t comma = list.find(',', at);
    if (comma == std::string::npos) comma = list.size();
    const int n = std::atoi(list.substr(at, comma - at).c_str());
    if (n >= 1) counts.push_back(n);
    at = comma + 1;
  }
  if (counts.empty()) counts = {1, 2, 4};
  return counts;
}

void threaded(const char* name, void (*fn)(benchmark::State&)) {
  benchmark::internal::Benchmark* b = benchmark::RegisterBenchmark(name, fn);
  for (int n : thread_counts()) b->Threads(n);
}

[[maybe_unused]] const bool registered = [] {
  threaded("counter/floor_padded_slot", floor_padded_slot);
  threaded("counter/obs_macro", obs_counter_macro);
  threaded("counter/floor_shared_atomic", floor_shared_atomic);
  threaded("counter/obs_handle", obs_counter_handle);
#if OBS_BENCH_PROMETHEUS_CPP
  threaded("counter/promcpp", promcpp_counter);
#endif

  threaded("labels/obs_macro_family", obs_labels_macro);
#if OBS_BENCH_PROMETHEUS_CPP
  threaded("labels/promcpp_family_add", promcpp_labels);
#endif
  threaded("labels/obs_family_with", obs_labels_family);

  threaded("gauge_set/obs", obs_gauge_set);
#if OBS_BENCH_PROMETHEUS_CPP
  threaded("gauge_set/promcpp", promcpp_gauge_set);
#endif
  threaded("gauge_set_after_adds/obs", obs_gauge_set_after_adds);
  threaded("gauge_increment/obs", obs_gauge_increment);
#if OBS_BENCH_PROMETHEUS_CPP
  threaded("gauge_increment/promcpp", promcpp_gauge_increment);
#endif

  threaded("histogram/obs_explicit", obs_histogram_explicit);
#if OBS_BENCH_PROMETHEUS_CPP
  threaded("histogram/promcpp", promcpp_histogram);
#endif
  threaded("histogram/obs_explicit_and_native", obs_histogram_explicit_and_native);
  threaded("histogram/obs_explicit_exemplar", obs_histogram_exemplar);
  threaded("counter/obs_handle_exemplar", obs_counter_exemplar);
  threaded("quantiles/obs_native", obs_histogram_native);
  threaded("quantiles/obs_high_resolution", obs_histogram_high_resolution);
#if OBS_BENCH_PROMETHEUS_CPP
  threaded("quantiles/promcpp_summary", promcpp_summary);
#endif
  return true;
}();

}  // namespace
