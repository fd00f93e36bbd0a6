// Experiments that time one piece of an obs hot path alone, next to the
// alternative it is judged against, to show where a figure comes from. They
// measure; they change nothing in obs.
//
// - `experiment_label_hash/*`: the hash every runtime-label lookup computes
//   (detail::hash_label_values, eight bytes per multiply) against byte-wise
//   FNV-1a of the same values, which it replaced: the difference is what
//   `with()` saved.
// - `experiment_snapshot_sort/*`: sorting the 11,000 series of the render
//   case by label values, the cost a snapshot pays whenever a family's
//   series order must be rebuilt (once per change; before, on every scrape).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "obs/detail/lookup_cache.hpp"
#include "obs/registry.hpp"

namespace {

// The values of the runtime-label benchmark: "GET" and "/api/v1/users/{id}".
const std::array<std::string, 2>& label_values() {
  static const std::array<std::string, 2> values{std::string("GE") + "T", std::string("/api/v1/users/") + "{id}"};
  return values;
}

void label_hash_obs(benchmark::State& state) {
  const auto& v = label_values();
  std::array<std::string_view, 2> views{v[0], v[1]};
  for (auto _ : state) {
    benchmark::DoNotOptimize(views.data());
    benchmark::DoNotOptimize(obs::detail::hash_label_values(views));
  }
}

// FNV-1a one byte at a time, with a separator after each value: the scheme
// the lookup used before hashing eight bytes per multiply.
std::uint64_t fnv1a_bytes(std::span<const std::string_view> values) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (std::string_view s : values) {
    for (char c : s) {
      h ^= static_cast<unsigned char>(c);
      h *= 0x100000001b3ull;
    }
    h ^= 0xff;
    h *= 0x100000001b3ull;
  }
  return h;
}

void label_hash_fnv(benchmark::State& state) {
  const auto& v = label_values();
  std::array<std::string_view, 2> views{v[0], v[1]};
  for (auto _ : state) {
    benchmark::DoNotOptimize(views.data());
    benchmark::DoNotOptimize(fnv1a_bytes(views));
  }
}

// The same 11,000 series as the render benchmarks (render_bench.cpp).
std::vector<std::vector<obs::series_snapshot>> render_case_series(obs::snapshot& keep) {
  obs::registry reg;
  for (int m = 0; m < 10; ++m) {
    obs::counter_family family = reg.counter_family("app_requests_" + std::to_string(m) + "_total", {"route", "status"});
    for (int i = 0; i < 1000; ++i) family.with("/api/v1/resource/" + std::to_string(i), "200").increment();
  }
  obs::histogram_family family = reg.histogram_family("app_request_duration_seconds", {"route"});
  for (int i = 0; i < 1000; ++i) family.with("/api/v1/resource/" + std::to_string(i)).record(0.1);
  keep = reg.snapshot();
  std::vector<std::vector<obs::series_snapshot>> out;
  for (const obs::family_snapshot& f : keep.families()) out.emplace_back(f.series.begin(), f.series.end());
  return out;
}

void snapshot_sort(benchmark::State& state) {
  obs::snapshot keep;
  const auto sorted = render_case_series(keep);
  auto families = sorted;
  std::mt19937_64 rng(42);
  // The comparison snapshot_builder::build uses.
  auto label_less = [](const obs::series_snapshot& a, const obs::series_snapshot& b) {
    return std::lexicographical_compare(a.labels.begin(), a.labels.end(), b.labels.begin(), b.labels.end(),
                                        [](const obs::label_view& x, const obs::label_view& y) {
                                          return x.name != y.name ? x.name < y.name : x.value < y.value;
                                        });
  };
  for (auto _ : state) {
    state.PauseTiming();
    // Series come out of the registry's hash map in no useful order.
    for (auto& f : families) std::shuffle(f.begin(), f.end(), rng);
    state.ResumeTiming();
    for (auto& f : families) std::sort(f.begin(), f.end(), label_less);
    benchmark::DoNotOptimize(families.data());
  }
}

[[maybe_unused]] const bool registered = [] {
  benchmark::RegisterBenchmark("experiment_label_hash/obs_hash_label_values", label_hash_obs);
  benchmark::RegisterBenchmark("experiment_label_hash/fnv1a_bytes", label_hash_fnv);
  benchmark::RegisterBenchmark("experiment_snapshot_sort/sort_11k_series", snapshot_sort)->Unit(benchmark::kMillisecond);
  return true;
}();

}  // namespace
