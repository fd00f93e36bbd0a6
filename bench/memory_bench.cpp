// Memory per series: heap growth (glibc mallinfo2: bytes in use plus mmapped
// chunks) from creating 10,000 series and recording into each from 1 or 16
// threads, divided by the series count. Counter and explicit-bucket histogram
// series, obs and prometheus-cpp.
//
// Each case runs one iteration and reports `bytes/series`; the container that
// holds the handles is reserved before the first reading, so only what the
// library itself keeps is counted.
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <cstddef>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "obs/registry.hpp"

#if OBS_BENCH_PROMETHEUS_CPP
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#endif

namespace {

constexpr std::size_t series_count = 10000;

std::size_t heap_bytes() {
  struct mallinfo2 info = ::mallinfo2();
  return info.uordblks + info.hblkhd;
}

// "series-00042": short enough for the small-string buffer, so building the
// value allocates nothing that would be counted against the library.
void series_value(std::size_t i, char (&out)[16]) { std::snprintf(out, sizeof out, "series-%05zu", i); }

/// Creates the series of a `Store` (a registry plus a reserved handle
/// vector), records from `threads` threads and reports the heap growth.
template <class Store>
void measure(benchmark::State& state, int threads) {
  for (auto _ : state) {
    auto store = std::make_unique<Store>();
    const std::size_t before = heap_bytes();
    // Series are created on a thread of their own: obs's per-thread lookup
    // cache holds references to the series it last found, and those must not
    // outlive this measurement (they would keep one store's memory alive into
    // the next and free it during that one's reading).
    std::thread([&store] {
      char value[16];
      for (std::size_t i = 0; i < series_count; ++i) {
        series_value(i, value);
        store->create(value);
      }
    }).join();
    std::vector<std::thread> recorders;
    recorders.reserve(static_cast<std::size_t>(threads));
    for (int t = 0; t < threads; ++t)
      recorders.emplace_back([&store] {
        for (std::size_t i = 0; i < series_count; ++i) store->record(i);
      });
    for (std::thread& t : recorders) t.join();
    const std::size_t after = heap_bytes();
    state.counters["bytes/series"] =
        static_cast<double>(after - before) / static_cast<double>(series_count);
    store.reset();
  }
}

struct obs_counters {
  obs::registry reg;
  obs::counter_family family = configured(reg).counter_family("bench_memory_total", {"id"});
  std::vector<obs::counter> refs;
  obs_counters() { refs.reserve(series_count); }
  void create(std::string_view value) { refs.push_back(family.with(value)); }
  void record(std::size_t i) { refs[i].increment(); }

  static obs::registry& configured(obs::registry& r) {
    r.set_cardinality_limit(2 * series_count);
    return r;
  }
};

struct obs_histograms {
  obs::registry reg;
  obs::histogram_family family = obs_counters::configured(reg).histogram_family("bench_memory_seconds", {"id"});
  std::vector<obs::histogram> refs;
  obs_histograms() { refs.reserve(series_count); }
  void create(std::string_view value) { refs.push_back(family.with(value)); }
  void record(std::size_t i) { refs[i].record(0.042); }
};

#if OBS_BENCH_PROMETHEUS_CPP

struct promcpp_counters {
  prometheus::Registry reg;
  prometheus::Family<prometheus::Counter>& family = prometheus::BuildCounter().Name("bench_memory_total").Register(reg);
  std::vector<prometheus::Counter*> refs;
  promcpp_counters() { refs.reserve(series_count); }
  void create(const char* value) { refs.push_back(&family.Add({{"id", value}})); }
  void record(std::size_t i) { refs[i]->Increment(); }
};

struct promcpp_histograms {
  prometheus::Registry reg;
  prometheus::Family<prometheus::Histogram>& family =
      prometheus::BuildHistogram().Name("bench_memory_seconds").Register(reg);
  const prometheus::Histogram::BucketBoundaries bounds{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  std::vector<prometheus::Histogram*> refs;
  promcpp_histograms() { refs.reserve(series_count); }
  void create(const char* value) { refs.push_back(&family.Add({{"id", value}}, bounds)); }
  void record(std::size_t i) { refs[i]->Observe(0.042); }
};

#endif

template <class Store>
void add(const char* name) {
  for (int threads : {1, 16}) {
    std::string full = std::string(name) + "/recording_threads:" + std::to_string(threads);
    benchmark::RegisterBenchmark(full.c_str(), measure<Store>, threads)->Iterations(1)->Unit(benchmark::kMillisecond);
  }
}

[[maybe_unused]] const bool registered = [] {
  add<obs_counters>("memory_counter/obs");
#if OBS_BENCH_PROMETHEUS_CPP
  add<promcpp_counters>("memory_counter/promcpp");
#endif
  add<obs_histograms>("memory_histogram/obs");
#if OBS_BENCH_PROMETHEUS_CPP
  add<promcpp_histograms>("memory_histogram/promcpp");
#endif
  return true;
}();

}  // namespace
