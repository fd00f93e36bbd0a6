// redis_gateway::rate_limiter: per-API-key request quotas with GCRA, the
// generic cell rate algorithm (the one the seed's `governor` crate uses).
//
// Each key may send `rps` requests per second with a burst of `rps` (so a
// fresh key passes `rps` back-to-back requests, then one every 1/rps s).
// State is one time point per key (its theoretical arrival time, TAT).
//
//   rate_limiter lim(100);
//   auto d = lim.check("key", std::nullopt);   // the default quota
//   if (!d.allowed) reply_429(d.retry_after);
//
// Thread safety: every member may be called from any thread; keys are spread
// over 16 mutex-guarded shards. Cleanup: a key whose TAT has passed is in the
// same state as an unseen key, so sweep() drops it without changing any
// decision; check() sweeps a shard every 1024 calls to it, bounding memory by
// the keys active within the last second or so.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace redis_gateway {

/// Per-key GCRA limiter; see the header comment.
class rate_limiter {
 public:
  using clock = std::chrono::steady_clock;

  /// What check() decided.
  struct decision {
    bool allowed = true;
    /// When refused: how long until a request would pass.
    clock::duration retry_after{};
  };

  /// A limiter whose keys without a quota of their own get `default_rps`
  /// (at least 1).
  explicit rate_limiter(std::uint32_t default_rps);

  /// Counts one request of `key` at `now` against `rps` (the default when
  /// nullopt or 0).
  decision check(std::string_view key, std::optional<std::uint32_t> rps, clock::time_point now = clock::now());

  /// Drops `key`'s state (its API key was deleted).
  void remove(std::string_view key);
  /// Drops every key's state.
  void clear();
  /// Drops the state of keys idle since `now`: see the header comment.
  /// Returns how many were dropped.
  std::size_t sweep(clock::time_point now = clock::now());
  /// Keys with state; walks every shard.
  std::size_t size() const;

  /// The quota of keys without one of their own.
  std::uint32_t default_rps() const noexcept { return default_rps_; }

 private:
  // Transparent, so check() looks a key up without copying it.
  struct key_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view k) const noexcept { return std::hash<std::string_view>{}(k); }
  };
  struct shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, clock::time_point, key_hash, std::equal_to<>> tat;
    std::uint32_t calls = 0;
  };
  static std::size_t sweep_shard(shard& s, clock::time_point now);
  shard& shard_for(std::string_view key);

  std::uint32_t default_rps_;
  std::array<shard, 16> shards_;
};

/// Whole seconds for a Retry-After header (RFC 9110 section 10.2.3): the
/// duration rounded up, at least 1.
std::uint64_t retry_after_seconds(rate_limiter::clock::duration d) noexcept;

}  // namespace redis_gateway
