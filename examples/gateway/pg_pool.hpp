// gateway::pg_pool: a small PostgreSQL connection pool over libpq. acquire()
// measures how long the caller waited for a connection
// (db_pool_wait_duration_seconds) and exec() how long a query ran
// (db_query_duration_seconds): the design doc's "transparent wrapper around
// db.acquire()".
//
// Calls block (libpq's synchronous API): the gateway runs them on worker
// threads, never on its I/O thread. Connections are opened on demand up to
// the pool size; one whose server went away is discarded when a query fails
// on it, so the pool reconnects once the database is back.
//
// Thread safety: every member may be called from any thread; a lease is used
// by one thread at a time.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct pg_conn;
struct pg_result;

namespace gateway {

/// A database failure: no connection in time, a lost connection or a query
/// error; what() carries libpq's message.
class db_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The rows of one query, as text. Move-only; frees the libpq result.
class pg_rows {
 public:
  explicit pg_rows(pg_result* r) noexcept : result_(r) {}
  pg_rows(pg_rows&& other) noexcept : result_(std::exchange(other.result_, nullptr)) {}
  pg_rows& operator=(pg_rows&&) = delete;
  ~pg_rows();

  int size() const noexcept;
  /// The text of row `row`, column `col`; "" for NULL.
  std::string_view at(int row, int col) const noexcept;
  bool is_null(int row, int col) const noexcept;

 private:
  pg_result* result_;
};

/// See the header comment.
class pg_pool {
 public:
  class lease;

  /// A pool of up to `size` connections to `conninfo`. Connects lazily.
  pg_pool(std::string conninfo, std::size_t size);
  ~pg_pool();
  pg_pool(const pg_pool&) = delete;
  pg_pool& operator=(const pg_pool&) = delete;

  /// A connection, waiting up to `timeout` for one to be free and opening a
  /// new one if the pool is not full. Throws db_error on timeout or when the
  /// server cannot be reached.
  lease acquire(std::chrono::milliseconds timeout);

 private:
  friend class lease;
  void give_back(pg_conn* c, bool healthy) noexcept;

  std::string conninfo_;
  std::size_t size_;
  std::mutex mutex_;
  std::condition_variable freed_;
  std::vector<pg_conn*> idle_;
  std::size_t open_ = 0;
};

/// A connection taken from the pool; returns it when destroyed.
class pg_pool::lease {
 public:
  lease(lease&& other) noexcept
      : pool_(other.pool_), conn_(std::exchange(other.conn_, nullptr)), healthy_(other.healthy_) {}
  lease& operator=(lease&&) = delete;
  ~lease();

  /// Runs `sql` with text parameters `params` ($1, $2, ...), timing it.
  /// Throws db_error on failure; a failure that lost the connection also
  /// keeps it from going back to the pool.
  pg_rows exec(std::string_view sql, std::initializer_list<std::optional<std::string_view>> params = {});
  pg_rows exec(std::string_view sql, const std::vector<std::optional<std::string_view>>& params);

 private:
  friend class pg_pool;
  lease(pg_pool* p, pg_conn* c) noexcept : pool_(p), conn_(c) {}
  pg_pool* pool_;
  pg_conn* conn_;
  bool healthy_ = true;
};

}  // namespace gateway
