// A pool: the PostgreSQL server connections of one (database, user), the
// clients queued for one, and the counts SHOW POOLS, SHOW STATS and the
// db_pool_* metrics read. Plain state; pool.cpp lends and takes back its
// connections, on the service's one thread.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <service/relay_socket.hpp>

#include "auth.hpp"
#include "config.hpp"
#include "metrics.hpp"
#include "pgwire/decoder.hpp"

namespace pooler {

struct client;

/// One connection to PostgreSQL, in its pool's `idle` or lent to a client
/// (then in `busy`).
struct server_conn {
  server_conn(boost::asio::any_io_executor ex, std::size_t max_message) : socket(ex), decoder(max_message) {}
  ::service::relay_socket socket;
  pgwire::decoder decoder;
  std::uint64_t id = 0;
  std::int32_t process_id = 0;
  std::int32_t secret_key = 0;
  std::chrono::system_clock::time_point connect_time;
  std::chrono::system_clock::time_point request_time;
  /// The client it is lent to: where the answers of the read in flight go,
  /// and SHOW SERVERS' link. Null while idle. The client holds this
  /// connection too (client::server): release() and stop() end the pair.
  std::shared_ptr<client> link;
  /// A read is in flight on `socket` (service::read_server). One stays in
  /// flight while the connection sits idle, so that PostgreSQL ending it
  /// there is seen at once, with no check at every lend.
  bool reading = false;
  /// Closed when it comes back, not pooled: RELOAD changed where or as whom
  /// its pool logs in while it was lent out.
  bool discard = false;
};

/// SHOW STATS totals of a pool, and of the pools a database had before.
struct pool_stats {
  std::uint64_t xact_count = 0, query_count = 0, bytes_received = 0, bytes_sent = 0;
  std::chrono::microseconds xact_time{0}, query_time{0}, wait_time{0};

  pool_stats& operator+=(const pool_stats& o) noexcept {
    xact_count += o.xact_count;
    query_count += o.query_count;
    bytes_received += o.bytes_received;
    bytes_sent += o.bytes_sent;
    xact_time += o.xact_time;
    query_time += o.query_time;
    wait_time += o.wait_time;
    return *this;
  }
};

/// Server connections for one (database, user).
struct pool {
  std::string database;
  std::string user;
  std::string host;
  std::uint16_t port = 0;
  std::string dbname;
  bool dynamic = false;
  pool_mode mode = pool_mode::transaction;
  unsigned max = 0;
  /// What the pooler logs in to PostgreSQL with (a SCRAM secret gains its
  /// ClientKey when a client logs in).
  secret credentials;

  std::deque<std::shared_ptr<server_conn>> idle;
  std::vector<std::shared_ptr<server_conn>> busy;  ///< unordered: erased by swap-and-pop
  /// Clients queued for a connection, first come first served (service::queue_for_server).
  std::deque<std::shared_ptr<client>> waiters;
  unsigned connecting = 0;
  unsigned clients = 0;
  std::chrono::steady_clock::time_point last_used = std::chrono::steady_clock::now();
  /// ParameterStatus values of the first server, replayed to each client.
  std::vector<std::pair<std::string, std::string>> parameters;
  bool has_parameters = false;
  /// Out of pools_ (GC, RELOAD). RELOAD moves its clients to the pool now
  /// under its key; where there is none, they are told so at the end of
  /// their transaction.
  bool destroyed = false;
  /// Failed connects since the last one that worked: the first is logged,
  /// the rest only counted.
  unsigned connect_failures = 0;

  // Read by the scrape thread: the single writer keeps these in step.
  std::atomic<int> n_active{0}, n_idle{0}, n_waiting{0}, n_max{0};

  pool_stats stats;
  std::chrono::microseconds max_wait{0};

  /// Set by make_pool, for the pool's life; held in place, so that a
  /// record through it loads no pointer first.
  std::optional<metrics::pool_metrics> m;

  std::string service() const { return database + "/" + user; }
  /// No room for another connection: a client without one queues.
  bool full() const noexcept { return busy.size() + idle.size() + connecting >= max; }
  void sync_counts() noexcept {
    // Ordering: relaxed; a scrape may see counts one event apart, never torn.
    n_active.store(static_cast<int>(busy.size()), std::memory_order_relaxed);
    n_idle.store(static_cast<int>(idle.size()), std::memory_order_relaxed);
    n_waiting.store(static_cast<int>(waiters.size()), std::memory_order_relaxed);
    n_max.store(static_cast<int>(max), std::memory_order_relaxed);
  }
};

}  // namespace pooler
