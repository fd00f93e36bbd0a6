// The values the benchmarks record: 65,536 latencies, log-uniform between
// 100 us and 2 s, so they land in every one of the default buckets. A fixed
// value, or a short repeating sequence, would let the branch predictor learn
// a bucket search, which real traffic never allows.
//
// Both libraries record the same sequence:
//
//   histogram.record(obs_bench::latency_seconds(i++));
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace obs_bench {

inline constexpr std::size_t latency_count = 65536;

inline std::array<double, latency_count> make_latencies() {
  std::array<double, latency_count> values{};
  std::uint64_t x = 0x9e3779b97f4a7c15ull;  // xorshift64: same sequence on every run
  for (double& v : values) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    double u = static_cast<double>(x >> 11) * 0x1.0p-53;
    v = 1e-4 * std::pow(2e4, u);
  }
  return values;
}

// A namespace-scope constant, so reading it needs no initialisation guard.
inline const std::array<double, latency_count> latencies = make_latencies();

/// The i-th value of the sequence (wrapping around).
inline double latency_seconds(std::size_t i) noexcept { return latencies[i % latency_count]; }

}  // namespace obs_bench
