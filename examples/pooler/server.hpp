// The pooler: accepts PostgreSQL clients, authenticates them (static users,
// auth_query users), and hands them server connections from per
// (database, user) pools; the admin console (admin.cpp) reads its state.
//
// Everything runs on one io_context thread, as pgbouncer does, so the state
// below needs no locks; only the metrics callbacks, which the HTTP thread
// calls at scrape time, read it from elsewhere, and they read atomics.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "auth.hpp"
#include "auth_cache.hpp"
#include "config.hpp"
#include "metrics.hpp"
#include "pgwire/decoder.hpp"

namespace pooler {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;

/// Where a client's credentials came from (SHOW CLIENTS' auth_source).
enum class auth_source { config, auth_query };

/// One connection to PostgreSQL, owned by a pool.
struct server_conn {
  explicit server_conn(asio::any_io_executor ex) : socket(ex) {}
  tcp::socket socket;
  pgwire::decoder decoder;
  std::uint64_t id = 0;
  std::int32_t process_id = 0;
  std::int32_t secret_key = 0;
  std::chrono::system_clock::time_point connect_time;
  std::chrono::system_clock::time_point request_time;
  steady::time_point idle_since;
  struct client* link = nullptr;  ///< the client using it, for SHOW SERVERS
};

/// A client queued for a server connection.
struct waiter {
  explicit waiter(asio::any_io_executor ex) : timer(ex) {}
  asio::steady_timer timer;
  steady::time_point since = steady::now();
  std::shared_ptr<server_conn> conn;  ///< set when a connection is handed over
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
  std::deque<std::shared_ptr<waiter>> waiters;
  unsigned connecting = 0;
  unsigned clients = 0;
  steady::time_point last_used = steady::now();
  /// ParameterStatus values of the first server, replayed to each client.
  std::vector<std::pair<std::string, std::string>> parameters;
  bool has_parameters = false;
  bool destroyed = false;

  // Read by the scrape thread: the single writer keeps these in step.
  std::atomic<int> n_active{0}, n_idle{0}, n_waiting{0}, n_max{0};

  // SHOW STATS totals.
  std::uint64_t xact_count = 0, query_count = 0, bytes_received = 0, bytes_sent = 0;
  std::chrono::microseconds xact_time{0}, query_time{0}, wait_time{0}, max_wait{0};

  std::unique_ptr<metrics::pool_metrics> m;

  std::string service() const { return database + "/" + user; }
  void sync_counts() noexcept {
    // Ordering: relaxed; a scrape may see counts one event apart, never torn.
    n_active.store(static_cast<int>(busy.size()), std::memory_order_relaxed);
    n_idle.store(static_cast<int>(idle.size()), std::memory_order_relaxed);
    n_waiting.store(static_cast<int>(waiters.size()), std::memory_order_relaxed);
    n_max.store(static_cast<int>(max), std::memory_order_relaxed);
  }
};

/// One client connection.
struct client {
  explicit client(tcp::socket s) : socket(std::move(s)) {}
  tcp::socket socket;
  pgwire::decoder decoder;
  std::uint64_t id = 0;
  std::string user, database, application_name;
  std::string addr;
  std::uint16_t port = 0;
  auth_source source = auth_source::config;
  bool admin = false;
  std::shared_ptr<pool> pool_;
  std::shared_ptr<server_conn> server;
  std::int32_t cancel_pid = 0, cancel_key = 0;
  std::chrono::system_clock::time_point connect_time = std::chrono::system_clock::now();
  std::chrono::system_clock::time_point request_time = connect_time;
  // Transaction pooling state: the server goes back at ReadyForQuery 'I'
  // only when no Query/Sync is unanswered, nothing is being written to it and
  // no extended-protocol batch is open.
  int pending = 0;
  bool writing = false;
  bool extended_open = false;
  bool waiting = false;
  bool closing = false;
  bool logged_in = false;
  char tx_status = 'I';
  steady::time_point xact_start, query_start;
};

/// The auth_query executor of one database: `workers` connections that run
/// the query, used one at a time.
struct executor {
  struct conn {
    explicit conn(asio::any_io_executor ex) : socket(ex) {}
    tcp::socket socket;
    pgwire::decoder decoder;
    bool connected = false;
  };
  auth_query_config cfg;
  std::string host;
  std::uint16_t port = 0;
  std::vector<std::shared_ptr<conn>> conns;
  std::deque<std::shared_ptr<conn>> free;
  std::deque<std::shared_ptr<waiter>> waiters;
  unsigned busy = 0;
  bool retired = false;
};

/// A database clients may connect to, with its auth_query state if any.
struct database_state {
  database_config cfg;
  std::shared_ptr<executor> exec;
  std::unique_ptr<auth_cache> cache;
  std::unique_ptr<metrics::auth_query_metrics> m;
  /// Fetches in flight, by user: later logins wait on the first one's timer.
  struct inflight {
    explicit inflight(asio::any_io_executor ex) : done(ex) {}
    asio::steady_timer done;
    std::optional<secret> result;
    std::string error;
  };
  std::map<std::string, std::shared_ptr<inflight>> inflight_fetches;
  unsigned dynamic_pools = 0;
};

/// The pooler service.
class service {
 public:
  /// `config_path` is re-read by RELOAD.
  service(asio::io_context& ioc, config cfg, std::string config_path);
  ~service();
  /// Binds the listener and starts accepting, the executors and the pool GC.
  /// Throws boost::system::system_error if the address cannot be bound.
  void start();
  /// Stops accepting and closes every connection.
  void stop();
  /// The bound port.
  std::uint16_t port() const;

  /// Runs one admin console query; returns the reply messages (without
  /// ReadyForQuery). Defined in admin.cpp.
  std::string admin_query(std::string_view sql);

 private:
  asio::awaitable<void> accept_loop();
  asio::awaitable<void> gc_loop();
  asio::awaitable<void> handle_client(std::shared_ptr<client> c);
  asio::awaitable<void> serve_admin(std::shared_ptr<client> c);
  asio::awaitable<void> serve_pooled(std::shared_ptr<client> c);
  asio::awaitable<void> relay_server(std::shared_ptr<client> c, std::shared_ptr<server_conn> sv);
  /// Runs MD5 or SCRAM with the client; returns the secret it proved, with
  /// the ClientKey a SCRAM proof revealed. `refetch`, if set, is asked once
  /// for a fresher secret after a failed check.
  asio::awaitable<std::optional<secret>> authenticate(client& c, secret s, std::function<asio::awaitable<std::optional<secret>>()> refetch);
  asio::awaitable<std::shared_ptr<server_conn>> acquire(std::shared_ptr<pool> p);
  asio::awaitable<std::shared_ptr<server_conn>> connect_server(std::shared_ptr<pool> p);
  void release(pool& p, std::shared_ptr<server_conn> sv, bool reusable);
  asio::awaitable<void> return_server(std::shared_ptr<pool> p, std::shared_ptr<server_conn> sv, bool clean);
  asio::awaitable<std::optional<secret>> lookup_user(std::shared_ptr<database_state> db, std::string user, bool& from_cache);
  asio::awaitable<std::optional<secret>> fetch_coalesced(std::shared_ptr<database_state> db, std::string user, bool count_miss);
  asio::awaitable<std::optional<secret>> fetch_password(std::shared_ptr<executor> ex, std::string user);
  asio::awaitable<void> connect_executor(std::shared_ptr<executor> ex, std::shared_ptr<executor::conn> c);
  void cancel(std::int32_t pid, std::int32_t key);

  void apply_databases(std::vector<database_config> databases);
  void retire(executor& ex);
  std::shared_ptr<pool> make_pool(const database_state& db, const std::string& user, const secret& credentials, unsigned size,
                                  pool_mode mode, bool dynamic);
  void destroy_pool(const std::pair<std::string, std::string>& key);
  /// Re-reads the config; returns an error message, or empty on success.
  std::string reload();
  friend struct admin_view;

  asio::io_context& ioc_;
  config cfg_;
  std::string config_path_;
  tcp::acceptor acceptor_;
  asio::steady_timer gc_timer_;
  std::map<std::string, std::shared_ptr<database_state>> databases_;
  std::map<std::pair<std::string, std::string>, std::shared_ptr<pool>> pools_;
  std::map<std::uint64_t, std::shared_ptr<client>> clients_;
  std::uint64_t next_id_ = 1;
  bool stopped_ = false;
  std::chrono::system_clock::time_point started_ = std::chrono::system_clock::now();
};

}  // namespace pooler
