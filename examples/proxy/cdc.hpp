// The change feed: a temporary logical replication slot (test_decoding) on
// the origin, polled through SQL, turning every insert, update, delete and
// truncate into invalidations of the cached results that read the table.
//
// The slot is temporary and belongs to the feed's own connection: no other
// process can read or drop it while the proxy runs, and PostgreSQL drops it
// when the connection ends, so a stopped proxy retains no WAL. While the
// feed cannot read it (the origin is down, the connection broke) the cache
// is disabled and emptied, because changes it has not seen could make
// entries stale; a new connection gets a new slot, and the cache fills again
// only with results read after the slot existed.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "cache.hpp"
#include "pq.hpp"

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

/// Parses an LSN as PostgreSQL prints it ("16/B374D848"); nothing if it is not one.
std::optional<std::uint64_t> parse_lsn(std::string_view text);

/// A slot name of this process's own, for when none is configured.
std::string unique_slot_name();

/// Polls the slot on its own thread.
class change_feed {
 public:
  using clock = std::chrono::steady_clock;

  /// Starts polling. Throws std::runtime_error if PostgreSQL already has a
  /// slot named `slot` (another proxy's, or a leftover): two readers would
  /// each miss the changes the other consumed.
  change_feed(std::string conninfo, std::string slot, std::chrono::milliseconds interval, result_cache& cache);
  ~change_feed();
  change_feed(const change_feed&) = delete;
  change_feed& operator=(const change_feed&) = delete;

  /// Whether the last poll succeeded.
  bool healthy() const noexcept { return healthy_.load(std::memory_order_acquire); }
  /// Why the last poll failed; empty when healthy.
  std::string last_error() const;
  const std::string& slot() const noexcept { return slot_; }

  /// Every transaction that committed before this moment has been read and
  /// its tables invalidated.
  clock::time_point caught_up_to() const noexcept {
    // Ordering: relaxed; a reader acts on the value alone.
    return clock::time_point(clock::duration(caught_up_.load(std::memory_order_relaxed)));
  }
  /// Polls now rather than at the next interval: a session waits for the
  /// feed to pass its write.
  void hurry();

 private:
  // A moment and the end of WAL then: once the slot has confirmed reading
  // up to `lsn`, everything committed before `at` has been read.
  struct mark {
    clock::time_point at;
    std::uint64_t lsn;
  };

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
  std::atomic<clock::rep> caught_up_{0};
  std::deque<mark> marks_;  // feed thread only
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  pq::stop_flag stop_{false};  // ends a query in progress at shutdown
  bool hurried_ = false;
  std::string error_ = "not started";
  std::thread thread_;
};

}  // namespace proxy
