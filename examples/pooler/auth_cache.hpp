// The auth_query cache of one database: fetched secrets with a TTL, users
// that do not exist with a shorter one, and the per-user rate limit on
// re-fetching after a failed password check. Pure bookkeeping with the clock
// passed in; the executor (server.cpp) does the fetching and coalescing.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "auth.hpp"

namespace pooler {

/// One database's cache; not thread-safe (the pooler runs on one thread).
class auth_cache {
 public:
  using clock = std::chrono::steady_clock;

  /// What a lookup found.
  struct entry {
    std::optional<secret> value;  ///< nullopt: the user does not exist (negative)
    clock::time_point expires;
    std::chrono::system_clock::time_point cached_at;
    std::optional<std::chrono::system_clock::time_point> last_refetch;
  };

  auth_cache(std::chrono::milliseconds ttl, std::chrono::milliseconds failure_ttl, std::chrono::milliseconds min_interval)
      : ttl_(ttl), failure_ttl_(failure_ttl), min_interval_(min_interval) {}

  /// The unexpired entry for `user`, or nullptr (expired entries are dropped).
  const entry* find(const std::string& user, clock::time_point now);
  /// Stores a fetch result: a secret, or nullopt for "no such user".
  const entry& store(const std::string& user, std::optional<secret> value, clock::time_point now);
  /// Whether a re-fetch for `user` is allowed now; if so, records it.
  bool allow_refetch(const std::string& user, clock::time_point now);
  /// Forgets everything (RELOAD).
  void clear() noexcept { entries_.clear(); last_refetch_.clear(); }

  /// A row of SHOW AUTH_QUERY_CACHE.
  struct row {
    std::string user;
    const entry* e;
    std::chrono::milliseconds expires_in;
  };
  /// Unexpired entries, by user name.
  std::vector<row> rows(clock::time_point now) const;

 private:
  std::chrono::milliseconds ttl_, failure_ttl_, min_interval_;
  std::map<std::string, entry> entries_;
  // Kept apart from entries_: the limit must survive the entry's replacement.
  std::map<std::string, std::pair<clock::time_point, std::chrono::system_clock::time_point>> last_refetch_;
};

}  // namespace pooler
