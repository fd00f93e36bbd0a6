#include "auth_cache.hpp"

namespace pooler {

const auth_cache::entry* auth_cache::find(const std::string& user, clock::time_point now) {
  auto it = entries_.find(user);
  if (it == entries_.end()) return nullptr;
  if (it->second.expires <= now) {
    entries_.erase(it);
    return nullptr;
  }
  return &it->second;
}

const auth_cache::entry& auth_cache::store(const std::string& user, std::optional<secret> value, clock::time_point now) {
  entry e;
  e.expires = now + (value ? ttl_ : failure_ttl_);
  e.value = std::move(value);
  e.cached_at = std::chrono::system_clock::now();
  if (auto it = last_refetch_.find(user); it != last_refetch_.end()) e.last_refetch = it->second.second;
  return entries_.insert_or_assign(user, std::move(e)).first->second;
}

bool auth_cache::allow_refetch(const std::string& user, clock::time_point now) {
  auto it = last_refetch_.find(user);
  if (it != last_refetch_.end() && now - it->second.first < min_interval_) return false;
  last_refetch_[user] = {now, std::chrono::system_clock::now()};
  return true;
}

std::vector<auth_cache::row> auth_cache::rows(clock::time_point now) const {
  std::vector<row> out;
  for (const auto& [user, e] : entries_)
    if (e.expires > now)
      out.push_back({user, &e, std::chrono::duration_cast<std::chrono::milliseconds>(e.expires - now)});
  return out;
}

}  // namespace pooler
