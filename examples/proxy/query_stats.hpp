// Per-query statistics (the seed's QueryStats), by fingerprint, and their
// JSON for GET /metrics/queries.
//
// Thread safety: every member may be called from any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "classifier.hpp"

namespace proxy {

/// One execution, as the session saw it.
struct execution {
  status outcome = status::unsupported;
  double seconds = 0;
  std::uint64_t rows = 0;
};

class query_stats {
 public:
  /// Keeps at most `max_tracked` fingerprints, dropping the least executed
  /// when a new one arrives, so a stream of distinct statements stays bounded.
  explicit query_stats(std::size_t max_tracked = 10000) : max_tracked_(max_tracked) {}

  /// Counts one execution of the statement `a` classified as `c`.
  void record(const analysis& a, const classification& c, const execution& e);

  /// The JSON array of the `top` most executed fingerprints; the schema is
  /// in the README.
  std::string to_json(std::size_t top) const;

 private:
  struct stats {
    std::string sql_template;
    std::vector<std::string> tables;
    std::chrono::system_clock::time_point first_seen, last_seen;
    std::uint64_t execution_count = 0, cache_hits = 0, cache_misses = 0;
    double cache_seconds = 0, origin_seconds = 0;
    std::uint64_t origin_count = 0, rows = 0;
    bool cacheable = false;
    std::optional<uncacheable_reason> reason;
  };

  std::size_t max_tracked_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, stats> by_fingerprint_;
};

}  // namespace proxy
