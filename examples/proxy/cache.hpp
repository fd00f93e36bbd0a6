// The result cache: whole responses keyed by statement and parameters,
// bounded by a byte budget with least-recently-used eviction, and
// invalidated by table name.
//
// Thread safety: every member may be called from any thread (the proxy's
// I/O thread reads and fills it, the change feed invalidates it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "classifier.hpp"

namespace proxy {

/// One cached result: the backend messages to replay, as they came.
struct cached_result {
  std::string response;  ///< RowDescription (if any), DataRows, CommandComplete
  std::uint64_t rows = 0;
  std::vector<std::string> tables;  ///< relation names the result depends on
  /// The statement, so a hit is counted without classifying it again.
  std::shared_ptr<const verdict> statement;
};

class result_cache {
 public:
  result_cache(std::size_t budget_bytes, std::size_t max_entry_bytes)
      : budget_(budget_bytes), max_entry_(max_entry_bytes) {}

  /// The entry, marked most recently used; null on a miss or while disabled.
  std::shared_ptr<const cached_result> find(const std::string& key);

  /// Taken before a miss goes to the origin; store() refuses the result if
  /// one of its tables was invalidated since, because the origin may have
  /// answered from before that change.
  std::uint64_t ticket() const;

  /// Stores `value` unless too big, disabled, or stale for `ticket`; evicts
  /// least recently used entries to fit. Returns whether it stored.
  bool store(const std::string& key, std::shared_ptr<const cached_result> value, std::uint64_t ticket);

  /// Drops every entry reading `table` (a relation name); returns how many.
  std::size_t invalidate(std::string_view table);
  /// Drops everything (DDL through the proxy, a gap in the change feed).
  std::size_t clear();
  /// While disabled (no change feed), nothing is served or stored; enabling
  /// refuses every fill whose ticket was taken before.
  void set_enabled(bool on);

  std::size_t entries() const;
  std::size_t bytes() const;
  std::size_t max_entry_bytes() const noexcept { return max_entry_; }

 private:
  struct slot {
    std::string key;
    std::shared_ptr<const cached_result> value;
    std::size_t bytes;
  };
  using lru = std::list<slot>;

  void erase(lru::iterator it);  // mutex_ held, as for the two below
  void dropped(std::size_t n);    // counts invalidated entries
  void publish();                 // sets the size gauges

  const std::size_t budget_;
  const std::size_t max_entry_;
  mutable std::mutex mutex_;
  bool enabled_ = true;
  lru order_;  // most recently used first
  std::unordered_map<std::string, lru::iterator> index_;
  std::unordered_map<std::string, std::vector<std::string>> by_table_;  // table -> keys
  std::unordered_map<std::string, std::uint64_t> invalidated_at_;       // table -> epoch
  std::uint64_t epoch_ = 0;
  std::uint64_t cleared_at_ = 0;
  std::size_t bytes_ = 0;
};

}  // namespace proxy
