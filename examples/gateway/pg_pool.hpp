// gateway::pg_pool: the gateway's PostgreSQL connections, driven by libpq's
// non-blocking API on the gateway's I/O thread. acquire() measures how long
// the caller waited for a connection (db_pool_wait_duration_seconds) and
// exec() how long a query ran (db_query_duration_seconds): the design doc's
// "transparent wrapper around db.acquire()".
//
// The pool is the one place a request waits for the database: a request
// that finds every connection busy waits in acquire(), measured, and fails
// after the acquire timeout (the gateway answers 503). No thread is held
// meanwhile, so a hung server costs the requests that wait for it and
// nothing else.
//
// Connections are opened on demand up to the pool size. One that died while
// idle (the server restarted, idle_session_timeout, a terminated backend) is
// never handed out: acquire() checks every idle connection it takes
// (service::idle_socket_alive) and replaces a dead one before the request
// reaches it. One that breaks during a query fails that query and is
// discarded.
//
// Thread safety: none. The pool, its leases and their queries live on the
// executor given (the gateway's one I/O thread).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

struct pg_conn;
struct pg_result;

namespace gateway {

/// A database failure: no connection in time, a lost connection or a query
/// error; what() carries libpq's message, which names the server, so it
/// goes to the log, never to a client.
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
  using clock = std::chrono::steady_clock;

  /// A pool of up to `size` connections to `conninfo`, on `ex`. Connects lazily.
  pg_pool(boost::asio::any_io_executor ex, std::string conninfo, std::size_t size,
          std::chrono::milliseconds acquire_timeout);
  ~pg_pool();
  pg_pool(const pg_pool&) = delete;
  pg_pool& operator=(const pg_pool&) = delete;

  /// A live connection: an idle one, a new one if the pool is not full, or
  /// the first one given back, in the order the callers came. Throws
  /// db_error when none is had by `deadline` (by default, the acquire
  /// timeout from now) or the server cannot be reached.
  ///
  ///   pg_pool::lease c = co_await pool.acquire();
  ///   pg_rows rows = co_await c.exec("SELECT $1::int + 1", {"41"});
  boost::asio::awaitable<lease> acquire();
  boost::asio::awaitable<lease> acquire(clock::time_point deadline);

  /// Fails every wait and query in progress with db_error, at once, and
  /// closes the idle connections; acquire() fails from now on. For the
  /// end of a shutdown, when nothing may wait for the database any more.
  void stop();

 private:
  struct connection;
  struct waiter;
  friend class lease;

  boost::asio::awaitable<std::unique_ptr<connection>> open(clock::time_point deadline);
  void give_back(std::unique_ptr<connection> c) noexcept;
  void slot_freed() noexcept;

  boost::asio::any_io_executor executor_;
  std::string conninfo_;
  std::size_t size_;
  std::chrono::milliseconds acquire_timeout_;
  std::vector<std::unique_ptr<connection>> idle_;
  std::unordered_set<connection*> busy_;  // leased or being opened
  std::deque<waiter*> waiters_;
  std::size_t open_ = 0;  // idle, busy and promised to a waiter
  bool stopped_ = false;
};

/// A connection taken from the pool; returns it when destroyed.
class pg_pool::lease {
 public:
  lease(lease&& other) noexcept;
  lease& operator=(lease&&) = delete;
  ~lease();

  /// Runs `sql` with text parameters `params` ($1, $2, ...; nullopt is
  /// NULL), timing it. Throws db_error when it fails, or when no answer came
  /// by `deadline`; a connection whose query did not end cleanly is
  /// discarded when the lease ends.
  boost::asio::awaitable<pg_rows> exec(std::string sql, std::vector<std::optional<std::string>> params = {},
                                       clock::time_point deadline = clock::time_point::max());

 private:
  friend class pg_pool;
  lease(pg_pool* p, std::unique_ptr<connection> c) noexcept;
  pg_pool* pool_;
  std::unique_ptr<connection> conn_;
};

}  // namespace gateway
