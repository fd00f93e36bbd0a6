// Resident memory per series, measured from outside the library: the growth of
// the process's resident set (/proc/self/statm) while SERIES series (10,000 by
// default) are created and then recorded into from THREADS threads, divided by
// SERIES.
// One case per process, so no memory freed by an earlier case is reused and
// hidden. bench/memory_rss runs it at several OBS_THREAD_SLOTS values.
//
//   obs_memory_rss obs|prometheus-cpp counter|histogram|quantiles THREADS [SERIES]
//
// `quantiles` is a latency distribution: obs's native histogram (and
// OBS_QUANTILES=high_resolution, its summary form) against prometheus-cpp's
// Summary (0.5, 0.9, 0.99), each series recording 16 values from 0.1 ms to
// about 1 s, 14 powers of two.
//
// Prints one line: `rss_bytes_per_series heap_bytes_per_series`, the second
// from glibc's mallinfo2 (what the library allocated with malloc/new).
#include <malloc.h>

#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "obs/registry.hpp"
#include "support/resident_memory.hpp"

#if OBS_BENCH_PROMETHEUS_CPP
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/summary.h>
#endif

namespace {

std::size_t series_count = 10000;

std::size_t heap_bytes() {
  struct mallinfo2 info = ::mallinfo2();
  return info.uordblks + info.hblkhd;
}

obs::registry& with_room(obs::registry& reg) {
  reg.set_cardinality_limit(2 * series_count);
  return reg;
}

struct obs_counters {
  obs::registry reg;
  obs::counter_family family = with_room(reg).counter_family("bench_memory_total", {"id"});
  std::vector<obs::counter> refs;
  void create(const char* value) { refs.push_back(family.with(std::string_view(value))); }
  void record(std::size_t i) { refs[i].increment(); }
};

struct obs_histograms {
  obs::registry reg;
  obs::histogram_family family = with_room(reg).histogram_family("bench_memory_seconds", {"id"});
  std::vector<obs::histogram> refs;
  void create(const char* value) { refs.push_back(family.with(std::string_view(value))); }
  void record(std::size_t i) { refs[i].record(0.042); }
};

/// 16 values from 0.1 ms to ~1 s.
double spread_value(std::size_t k) { return 1e-4 * std::exp2(0.85 * static_cast<double>(k)); }

struct obs_quantiles {
  obs::registry reg;
  obs::histogram_family family = [&] {
    const char* form = std::getenv("OBS_QUANTILES");
    reg.set_histogram_config(obs::matcher::full("bench_memory_seconds"),
                             form && std::string_view(form) == "high_resolution"
                                 ? obs::histogram_config::high_resolution()
                                 : obs::histogram_config::native());
    return with_room(reg).histogram_family("bench_memory_seconds", {"id"});
  }();
  std::vector<obs::histogram> refs;
  void create(const char* value) { refs.push_back(family.with(std::string_view(value))); }
  void record(std::size_t i) {
    for (std::size_t k = 0; k < 16; ++k) refs[i].record(spread_value(k));
  }
};

#if OBS_BENCH_PROMETHEUS_CPP
struct promcpp_summaries {
  prometheus::Registry reg;
  prometheus::Family<prometheus::Summary>& family = prometheus::BuildSummary().Name("bench_memory_seconds").Register(reg);
  std::vector<prometheus::Summary*> refs;
  void create(const char* value) {
    refs.push_back(&family.Add({{"id", value}}, prometheus::Summary::Quantiles{{0.5, 0.05}, {0.9, 0.01}, {0.99, 0.001}}));
  }
  void record(std::size_t i) {
    for (std::size_t k = 0; k < 16; ++k) refs[i]->Observe(spread_value(k));
  }
};

struct promcpp_counters {
  prometheus::Registry reg;
  prometheus::Family<prometheus::Counter>& family = prometheus::BuildCounter().Name("bench_memory_total").Register(reg);
  std::vector<prometheus::Counter*> refs;
  void create(const char* value) { refs.push_back(&family.Add({{"id", value}})); }
  void record(std::size_t i) { refs[i]->Increment(); }
};

struct promcpp_histograms {
  prometheus::Registry reg;
  prometheus::Family<prometheus::Histogram>& family =
      prometheus::BuildHistogram().Name("bench_memory_seconds").Register(reg);
  const prometheus::Histogram::BucketBoundaries bounds{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  std::vector<prometheus::Histogram*> refs;
  void create(const char* value) { refs.push_back(&family.Add({{"id", value}}, bounds)); }
  void record(std::size_t i) { refs[i]->Observe(0.042); }
};
#endif

template <class Store>
int measure(int threads) {
  auto store = std::make_unique<Store>();
  store->refs.reserve(series_count);
  // The threads' stacks and the library's per-thread state come into being
  // before the first reading: each thread starts, records once into a series
  // of its own, then waits for the go.
  char value[32];
  std::snprintf(value, sizeof value, "warm-up");
  store->create(value);
  std::atomic<int> phase{0};
  std::vector<std::thread> recorders;
  std::atomic<int> ready{0};
  for (int t = 0; t < threads; ++t)
    recorders.emplace_back([&] {
      store->record(0);
      ready.fetch_add(1);
      while (phase.load() == 0) std::this_thread::yield();
      for (std::size_t i = 1; i <= series_count; ++i) store->record(i);
    });
  while (ready.load() < threads) std::this_thread::yield();

  const std::size_t rss_before = obs_test::resident_bytes();
  const std::size_t heap_before = heap_bytes();
  for (std::size_t i = 1; i <= series_count; ++i) {
    std::snprintf(value, sizeof value, "series-%07zu", i);
    store->create(value);
  }
  phase.store(1);
  for (std::thread& t : recorders) t.join();
  const std::size_t rss_after = obs_test::resident_bytes();
  const std::size_t heap_after = heap_bytes();
  std::printf("%.0f %.0f\n", static_cast<double>(rss_after - rss_before) / series_count,
              static_cast<double>(heap_after - heap_before) / series_count);
  return 0;
}

int usage() {
  std::fprintf(stderr, "usage: obs_memory_rss obs|prometheus-cpp counter|histogram|quantiles THREADS [SERIES]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4 && argc != 5) return usage();
  const std::string library = argv[1], kind = argv[2];
  const int threads = std::atoi(argv[3]);
  if (argc == 5) series_count = std::strtoul(argv[4], nullptr, 10);
  if (threads < 1 || series_count < 1) return usage();
  if (library == "obs" && kind == "counter") return measure<obs_counters>(threads);
  if (library == "obs" && kind == "histogram") return measure<obs_histograms>(threads);
  if (library == "obs" && kind == "quantiles") return measure<obs_quantiles>(threads);
#if OBS_BENCH_PROMETHEUS_CPP
  if (library == "prometheus-cpp" && kind == "counter") return measure<promcpp_counters>(threads);
  if (library == "prometheus-cpp" && kind == "histogram") return measure<promcpp_histograms>(threads);
  if (library == "prometheus-cpp" && kind == "quantiles") return measure<promcpp_summaries>(threads);
#endif
  return usage();
}
