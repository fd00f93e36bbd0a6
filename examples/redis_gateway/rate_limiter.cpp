#include "rate_limiter.hpp"

#include <algorithm>

namespace redis_gateway {

rate_limiter::rate_limiter(std::uint32_t default_rps) : default_rps_(std::max<std::uint32_t>(default_rps, 1)) {}

rate_limiter::shard& rate_limiter::shard_for(std::string_view key) {
  return shards_[std::hash<std::string_view>{}(key) % shards_.size()];
}

rate_limiter::decision rate_limiter::check(std::string_view key, std::optional<std::uint32_t> rps,
                                           clock::time_point now) {
  const std::uint32_t rate = rps && *rps > 0 ? *rps : default_rps_;
  const auto interval = std::chrono::duration_cast<clock::duration>(std::chrono::nanoseconds(1'000'000'000) / rate);
  // Tolerance of rate - 1 intervals: a fresh key passes `rate` requests at once.
  const auto tolerance = interval * (rate - 1);

  shard& s = shard_for(key);
  std::lock_guard lock(s.mutex);
  if (++s.calls % 1024 == 0) sweep_shard(s, now);
  auto it = s.tat.find(key);
  const clock::time_point tat = it == s.tat.end() ? now : std::max(it->second, now);
  if (tat - now > tolerance) return {false, tat - now - tolerance};
  if (it == s.tat.end())
    s.tat.emplace(std::string(key), tat + interval);
  else
    it->second = tat + interval;
  return {};
}

void rate_limiter::remove(std::string_view key) {
  shard& s = shard_for(key);
  std::lock_guard lock(s.mutex);
  if (auto it = s.tat.find(key); it != s.tat.end()) s.tat.erase(it);
}

void rate_limiter::clear() {
  for (auto& s : shards_) {
    std::lock_guard lock(s.mutex);
    s.tat.clear();
  }
}

std::size_t rate_limiter::sweep_shard(shard& s, clock::time_point now) {
  return std::erase_if(s.tat, [now](const auto& kv) { return kv.second <= now; });
}

std::size_t rate_limiter::sweep(clock::time_point now) {
  std::size_t dropped = 0;
  for (auto& s : shards_) {
    std::lock_guard lock(s.mutex);
    dropped += sweep_shard(s, now);
  }
  return dropped;
}

std::size_t rate_limiter::size() const {
  std::size_t n = 0;
  for (const auto& s : shards_) {
    std::lock_guard lock(s.mutex);
    n += s.tat.size();
  }
  return n;
}

std::uint64_t retry_after_seconds(rate_limiter::clock::duration d) noexcept {
  const auto secs = std::chrono::ceil<std::chrono::seconds>(d).count();
  return secs < 1 ? 1 : static_cast<std::uint64_t>(secs);
}

}  // namespace redis_gateway
