// The benchmarks' heap-allocation meter, on the tests' counting operator new
// (tests/support/counting_new.cpp): every allocation in the benchmark binary
// bumps a per-thread count, so a case can report exactly how many
// allocations one operation costs.
//
// Use an `alloc_meter` around a benchmark loop; it reports the user counter
// `allocs/op`. Per-thread counts keep the counting itself off the contended
// paths being measured, and Google Benchmark sums the counters of all
// threads before dividing by the total iterations:
//
//   obs_bench::alloc_meter meter;
//   for (auto _ : state) work();
//   meter.report(state);
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>

#include "support/counting_new.hpp"

namespace obs_bench {

/// Heap allocations made by this thread so far (operator new, all forms).
inline std::uint64_t thread_allocations() noexcept { return obs_test::thread_allocation_count(); }

/// Counts this thread's allocations from construction to `report`.
class alloc_meter {
 public:
  alloc_meter() noexcept : start_(thread_allocations()) {}

  /// Allocations since construction.
  std::uint64_t count() const noexcept { return thread_allocations() - start_; }

  /// Sets `allocs/op`: this thread's allocations over all threads' iterations.
  void report(benchmark::State& state) const {
    state.counters["allocs/op"] =
        benchmark::Counter(static_cast<double>(count()), benchmark::Counter::kAvgIterations);
  }

 private:
  std::uint64_t start_;
};

}  // namespace obs_bench
