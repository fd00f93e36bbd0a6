// Experiments that locate where obs misses a target, by timing one piece of a
// hot path alone next to a candidate replacement. They measure; they change
// nothing in obs.
//
// - `experiment_label_hash/*`: the runtime-label lookup hashes its values
//   byte by byte (FNV-1a, detail::hash_label_values); a word-at-a-time hash of
//   the same bytes shows what a faster hash would save per `with()`.
// - `experiment_snapshot_sort/*`: snapshot_builder::build sorts every family's
//   series by label values; sorting the 11,000 series of the render case
//   alone shows that share of a scrape.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "obs/detail/family_state.hpp"
#include "obs/registry.hpp"

namespace {

// The values of the runtime-label benchmark: "GET" and "/api/v1/users/{id}".
const std::array<std::string, 2>& label_values() {
  static const std::array<std::string, 2> values{std::string("GE") + "T", std::string("/api/v1/users/") + "{id}"};
  return values;
}

void label_hash_fnv(benchmark::State& state) {
  const auto& v = label_values();
  std::array<std::string_view, 2> views{v[0], v[1]};
  for (auto _ : state) {
    benchmark::DoNotOptimize(views.data());
    benchmark::DoNotOptimize(obs::detail::hash_label_values(views));
  }
}

// Eight bytes per multiply instead of one: a candidate, not a recommendation
// of this exact function.
std::uint64_t word_hash(std::span<const std::string_view> values) noexcept {
  std::uint64_t h = 0x9e3779b97f4a7c15ull;
  auto mix = [&h](std::uint64_t w) {
    h = (h ^ w) * 0xff51afd7ed558ccdull;
    h ^= h >> 32;
  };
  for (std::string_view s : values) {
    std::size_t i = 0;
    for (; i + 8 < s.size(); i += 8) {
      std::uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      mix(w);
    }
    // The last 8 bytes (overlapping the previous word), or a short value
    // packed into one word; the length separates values.
    std::uint64_t tail = 0;
    if (s.size() >= 8) {
      std::memcpy(&tail, s.data() + s.size() - 8, 8);
    } else {
      for (char c : s) tail = (tail << 8) | static_cast<unsigned char>(c);
    }
    mix(tail ^ (static_cast<std::uint64_t>(s.size()) << 56));
  }
  return h;
}

void label_hash_word(benchmark::State& state) {
  const auto& v = label_values();
  std::array<std::string_view, 2> views{v[0], v[1]};
  for (auto _ : state) {
    benchmark::DoNotOptimize(views.data());
    benchmark::DoNotOptimize(word_hash(views));
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
  benchmark::RegisterBenchmark("experiment_label_hash/fnv1a_bytes", label_hash_fnv);
  benchmark::RegisterBenchmark("experiment_label_hash/word_at_a_time", label_hash_word);
  benchmark::RegisterBenchmark("experiment_snapshot_sort/sort_11k_series", snapshot_sort)->Unit(benchmark::kMillisecond);
  return true;
}();

}  // namespace
