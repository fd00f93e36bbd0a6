#include "cache.hpp"

#include <algorithm>

#include "metrics.hpp"

namespace proxy {

std::shared_ptr<const cached_result> result_cache::find(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = index_.find(key);
  if (!enabled_ || it == index_.end()) return nullptr;
  order_.splice(order_.begin(), order_, it->second);
  return it->second->value;
}

std::uint64_t result_cache::ticket() const {
  std::lock_guard lock(mutex_);
  return epoch_;
}

bool result_cache::store(const std::string& key, std::shared_ptr<const cached_result> value, std::uint64_t ticket) {
  std::size_t size = key.size() + value->response.size() + sizeof(slot);
  for (const auto& t : value->tables) size += t.size();
  std::lock_guard lock(mutex_);
  if (!enabled_ || size > max_entry_ || size > budget_ || cleared_at_ > ticket) return false;
  for (const auto& t : value->tables)
    if (auto it = invalidated_at_.find(t); it != invalidated_at_.end() && it->second > ticket) return false;
  if (auto it = index_.find(key); it != index_.end()) erase(it->second);
  while (bytes_ + size > budget_ && !order_.empty()) erase(std::prev(order_.end()));
  for (const auto& t : value->tables) by_table_[t].push_back(key);
  order_.push_front(slot{key, std::move(value), size});
  index_.emplace(key, order_.begin());
  bytes_ += size;
  publish();
  return true;
}

void result_cache::dropped(std::size_t n) {
  metrics.invalidations.increment(n);
  publish();
}

void result_cache::publish() {
  metrics.cached_queries.set(static_cast<double>(index_.size()));
  metrics.cache_size_bytes.set(static_cast<double>(bytes_));
}

void result_cache::erase(lru::iterator it) {
  for (const auto& t : it->value->tables) {
    auto keys = by_table_.find(t);
    if (keys == by_table_.end()) continue;
    std::erase(keys->second, it->key);
    if (keys->second.empty()) by_table_.erase(keys);
  }
  bytes_ -= it->bytes;
  index_.erase(it->key);
  order_.erase(it);
}

std::size_t result_cache::invalidate(std::string_view table) {
  std::lock_guard lock(mutex_);
  std::string name(table);
  invalidated_at_[name] = ++epoch_;
  auto keys = by_table_.find(name);
  if (keys == by_table_.end()) return 0;
  std::vector<std::string> doomed = keys->second;
  for (const auto& k : doomed)
    if (auto it = index_.find(k); it != index_.end()) erase(it->second);
  dropped(doomed.size());
  return doomed.size();
}

std::size_t result_cache::clear() {
  std::lock_guard lock(mutex_);
  cleared_at_ = ++epoch_;
  std::size_t n = index_.size();
  order_.clear();
  index_.clear();
  by_table_.clear();
  bytes_ = 0;
  dropped(n);
  return n;
}

void result_cache::set_enabled(bool on) {
  {
    std::lock_guard lock(mutex_);
    enabled_ = on;
    // A fill that started while disabled may have read before the change
    // feed could see what followed.
    if (on) cleared_at_ = ++epoch_;
  }
  if (!on) clear();
}

std::size_t result_cache::entries() const {
  std::lock_guard lock(mutex_);
  return index_.size();
}

std::size_t result_cache::bytes() const {
  std::lock_guard lock(mutex_);
  return bytes_;
}

}  // namespace proxy
