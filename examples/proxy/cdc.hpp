// The change feed: a logical replication slot (test_decoding) on the origin,
// polled through SQL, turning every insert, update, delete and truncate into
// invalidations of the cached results that read the table.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "cache.hpp"

struct pg_conn;

namespace proxy {

/// One test_decoding change line, e.g. `table public.t: INSERT: id[integer]:1`.
struct change {
  std::string schema;
  std::string table;
  std::string type;  ///< INSERT, UPDATE, DELETE or TRUNCATE
};
/// Parses a change line (quoted identifiers included); nothing for BEGIN,
/// COMMIT and anything it does not understand.
std::optional<change> parse_change(std::string_view line);

/// Polls the slot on its own thread. While it cannot (the origin is down,
/// the slot is active elsewhere) the cache is disabled, because changes it
/// has not seen could make entries stale; the slot keeps them, so it resumes
/// where it stopped.
class change_feed {
 public:
  change_feed(std::string conninfo, std::string slot, std::chrono::milliseconds interval, result_cache& cache);
  ~change_feed();
  change_feed(const change_feed&) = delete;
  change_feed& operator=(const change_feed&) = delete;

  /// Whether the last poll succeeded.
  bool healthy() const noexcept { return healthy_.load(std::memory_order_acquire); }
  /// Why the last poll failed; empty when healthy.
  std::string last_error() const;

 private:
  void run();
  void poll(pg_conn* conn);
  void fail(const std::string& why);

  std::string conninfo_;
  std::string slot_;
  std::chrono::milliseconds interval_;
  result_cache& cache_;
  // Ordering: release when set after the cache was enabled, so a reader
  // that sees healthy also sees the enabled cache.
  std::atomic<bool> healthy_{false};
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::string error_ = "not started";
  std::thread thread_;
};

}  // namespace proxy
