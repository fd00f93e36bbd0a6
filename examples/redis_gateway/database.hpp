// redis_gateway::database: a small libpq connection pool over the gateway's
// own schema, and the migration that creates its tables.
//
//   database db(conninfo, "redis_gateway", 4);
//   db.migrate();
//   auto rows = db.query("select", "SELECT id, name FROM organizations", {});
//
// Every query is counted in database_queries_total{type}, its failures in
// database_query_errors_total{type}, its time in
// database_query_duration_seconds{type}. Connections that fail are dropped
// and replaced on the next query; each runs with search_path set to the
// schema, so the SQL below names tables unqualified.
//
// Thread safety: every member may be called from any thread.
#pragma once

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

/// A failed query or connection; what() is PostgreSQL's message.
struct database_error : std::runtime_error {
  using std::runtime_error::runtime_error;
  /// Whether the server refused the statement (e.g. a unique violation), as
  /// opposed to being unreachable.
  bool rejected = false;
  /// SQLSTATE when rejected, e.g. "23505".
  std::string sqlstate;
};

/// Rows of text values; NULL is nullopt.
using rows = std::vector<std::vector<std::optional<std::string>>>;

/// See the header comment.
class database {
 public:
  /// Connects lazily to `conninfo` (a libpq URL or key=value string).
  database(std::string conninfo, std::string schema, std::size_t pool_size);
  ~database();
  database(const database&) = delete;
  database& operator=(const database&) = delete;

  /// Creates the schema and its tables if missing, under an advisory lock so
  /// gateways starting together do not race. Throws database_error.
  void migrate();

  /// Runs `sql` with text parameters `$1..$n`; `type` is the metric label
  /// (select, insert, delete, migrate, ping). Throws database_error.
  rows query(std::string_view type, const std::string& sql, const std::vector<std::optional<std::string>>& params);

  /// SELECT 1; throws database_error when it fails.
  void ping() { query("ping", "SELECT 1", {}); }

 private:
  pg_conn* acquire();
  void release(pg_conn* c, bool healthy);

  std::string conninfo_;
  std::string schema_;
  std::size_t pool_size_;
  std::mutex mutex_;
  std::vector<pg_conn*> idle_;
};

}  // namespace redis_gateway
