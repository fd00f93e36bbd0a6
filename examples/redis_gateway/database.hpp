// redis_gateway::database: a small libpq connection pool over the gateway's
// own schema, and the migration that creates its tables.
//
//   database db(conninfo, "redis_gateway", 4, std::chrono::seconds(2));
//   db.migrate();
//   auto rows = db.query("select", "SELECT id, name FROM organizations", {});
//
// Every call has a deadline: connecting and running the statement take at
// most the timeout given at construction (--db-timeout-ms), so a PostgreSQL
// that hangs costs a request that long, never a thread for good; and stop()
// ends every wait on PostgreSQL within 100 ms, for the shutdown.
//
// The pool's liveness rule is the services' one (service::idle_socket_alive):
// a connection that died while idle (PostgreSQL restarted, its
// idle_session_timeout, a terminated backend) is dropped when taken, never
// used. A statement whose send fails has not reached the server, so it runs
// again on a fresh connection; one that was sent is never repeated.
// Connections that fail are dropped; each runs with search_path set to the
// schema, so the SQL below names tables unqualified.
//
// Every query is counted in database_queries_total{type}, its failures in
// database_query_errors_total{type}, its time in
// database_query_duration_seconds{type}.
//
// Thread safety: every member may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

struct pg_conn;

namespace redis_gateway {

/// A failed query or connection. what() is libpq's or PostgreSQL's message,
/// which names the server's address: for the log, never for a client.
struct database_error : std::runtime_error {
  using std::runtime_error::runtime_error;
  /// Whether the server refused the statement (e.g. a unique violation), as
  /// opposed to being unreachable, hung or shutting down.
  bool rejected = false;
  /// SQLSTATE when the server sent one, e.g. "23505".
  std::string sqlstate;
};

/// Rows of text values; NULL is nullopt.
using rows = std::vector<std::vector<std::optional<std::string>>>;

/// See the header comment.
class database {
 public:
  /// Connects lazily to `conninfo` (a libpq URL or key=value string); keeps
  /// up to `pool_size` idle connections; gives each call `timeout`.
  database(std::string conninfo, std::string schema, std::size_t pool_size, std::chrono::milliseconds timeout);
  ~database();
  database(const database&) = delete;
  database& operator=(const database&) = delete;

  /// Creates the schema and its tables if missing, under an advisory lock so
  /// gateways starting together do not race (so it may wait up to 30 s for
  /// another's). Throws database_error.
  void migrate();

  /// Runs `sql` with text parameters `$1..$n`; `type` is the metric label
  /// (select, insert, delete, migrate, ping). Throws database_error.
  rows query(std::string_view type, const std::string& sql, const std::vector<std::optional<std::string>>& params);

  /// SELECT 1 within `timeout`; throws database_error when it fails.
  void ping(std::chrono::milliseconds timeout);

  /// Every call waiting on PostgreSQL fails within 100 ms, and later calls
  /// fail at once: the shutdown's way to stop waiting for a server that hung.
  void stop() noexcept;

 private:
  using clock = std::chrono::steady_clock;
  // Counts the statement and runs it within `budget`.
  rows run(std::string_view type, const std::string& sql, const std::vector<std::optional<std::string>>& params,
           bool simple, std::chrono::milliseconds budget);
  rows execute(const std::string& sql, const std::vector<std::optional<std::string>>& params, bool simple,
               clock::time_point deadline, std::chrono::milliseconds budget);
  pg_conn* acquire(clock::time_point deadline, std::chrono::milliseconds budget, bool& reused);
  pg_conn* connect(clock::time_point deadline, std::chrono::milliseconds budget);
  void release(pg_conn* c);

  std::string conninfo_;
  std::string schema_;
  std::size_t pool_size_;
  std::chrono::milliseconds timeout_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::vector<pg_conn*> idle_;
};

}  // namespace redis_gateway
