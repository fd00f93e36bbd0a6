// libpq with deadlines, for the proxy's own connections (catalog lookups,
// the change feed): a query PostgreSQL does not answer in time (the server
// hung, a lock that is never released) fails instead of holding its thread,
// so the proxy can report the outage and still shut down.
#pragma once

#include <atomic>
#include <chrono>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>

#include <libpq-fe.h>

namespace proxy::pq {

using connection = std::unique_ptr<PGconn, decltype(&PQfinish)>;
using result = std::unique_ptr<PGresult, decltype(&PQclear)>;

/// A failed connection or query: PostgreSQL's message, and its SQLSTATE
/// when the server sent one.
struct error : std::runtime_error {
  error(const std::string& message, std::string code) : std::runtime_error(message), sqlstate(std::move(code)) {}
  std::string sqlstate;
};

/// Set to stop waiting: a call in progress throws pq::error within 100 ms,
/// so a shutdown never waits for a server that hung.
using stop_flag = std::atomic<bool>;

/// Connects with `conninfo` (a conninfo string or URI) as
/// `application_name`, so the connection is recognizable in
/// pg_stat_activity. Logging in takes at most 10 s. Throws pq::error.
connection connect(const std::string& conninfo, const char* application_name, const stop_flag* stop = nullptr);

/// Runs `sql` with text parameters and returns its result if its status is
/// `want`. Throws pq::error when it fails, or when no answer came within
/// `timeout` or before `stop`; the connection is then in an unknown state:
/// drop it.
result exec(PGconn* conn, const char* sql, std::initializer_list<const char*> params, ExecStatusType want,
            std::chrono::milliseconds timeout = std::chrono::seconds(10), const stop_flag* stop = nullptr);

}  // namespace proxy::pq
