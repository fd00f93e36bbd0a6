// The data both benchmark servers export: 10,000 counter series and 1,000
// histogram series with the Prometheus default buckets, filled the same way.
#pragma once

#include <string>
#include <vector>

namespace obs_bench_http {

inline constexpr int counter_series = 10000;
inline constexpr int histogram_series = 1000;
inline const std::vector<double> buckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

inline std::string route(int i) { return "/api/v1/resource" + std::to_string(i / 100); }
inline std::string id(int i) { return std::to_string(i); }
// A few observations per histogram series, spread over the buckets.
inline double observation(int series, int k) { return 0.001 * ((series * 7 + k * 13) % 2000); }

}  // namespace obs_bench_http
