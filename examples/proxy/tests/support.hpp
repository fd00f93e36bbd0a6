// What the integration tests share: libpq connections, a test database, an
// obs_proxy child process, and HTTP GETs against its metrics port.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <libpq-fe.h>
#include <nlohmann/json.hpp>

namespace proxy_test {

/// The variable's value; fails the test, naming it, when it is missing.
std::string require_env(const char* name);

/// A unique lowercase suffix for databases, slots and tables.
std::string unique_suffix();

using result = std::unique_ptr<PGresult, decltype(&PQclear)>;

/// One libpq connection; fails the test when it cannot connect.
class connection {
 public:
  explicit connection(const std::string& conninfo);
  ~connection() { PQfinish(conn_); }
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  /// Runs `sql`, requiring success (tuples or command).
  result exec(const std::string& sql);
  /// Runs `sql` and returns its result whatever it is.
  result try_exec(const std::string& sql);
  /// The first value of the first row.
  std::string scalar(const std::string& sql);
  PGconn* get() const noexcept { return conn_; }

 private:
  PGconn* conn_;
};

/// A database of its own on the shared server; dropped (with any slot named
/// like it) when destroyed.
class test_database {
 public:
  test_database();
  ~test_database();
  const std::string& name() const noexcept { return name_; }
  /// Conninfo for this database, straight to PostgreSQL.
  std::string direct() const;

 private:
  std::string name_;
};

/// obs_proxy as a child process on ephemeral ports, stopped with SIGTERM.
class proxy_process {
 public:
  /// `max_files`, when not 0, is the child's RLIMIT_NOFILE.
  proxy_process(const std::string& origin_conninfo, const std::string& slot, std::vector<std::string> extra = {},
                unsigned max_files = 0);
  ~proxy_process();
  proxy_process(const proxy_process&) = delete;
  proxy_process& operator=(const proxy_process&) = delete;

  /// Conninfo for `database` through the proxy.
  std::string conninfo(const std::string& database) const;
  std::uint16_t port() const noexcept { return port_; }
  std::uint16_t metrics_port() const noexcept { return metrics_port_; }
  /// Waits until /health reports the change feed healthy.
  void wait_ready() const;
  /// Sends SIGTERM and waits for the exit; returns waitpid's status. The
  /// destructor does this (and requires exit 0) unless it was done.
  int terminate();

 private:
  int pid_ = -1;
  std::uint16_t port_ = 0, metrics_port_ = 0;
};

/// How a proxy that was expected to refuse to start ended.
struct refusal {
  int exit_code = -1;  ///< -1 if it was still running after the deadline (then killed)
  std::string stderr_text;
};
/// Runs obs_proxy with `args` (after the program name) until it exits, for
/// at most `seconds`.
refusal run_until_exit(const std::vector<std::string>& args, double seconds = 30);

struct http_reply {
  int status = 0;
  std::string body;
};
/// GET http://127.0.0.1:port/path over a plain socket.
http_reply http_get(std::uint16_t port, const std::string& path);

/// The value of one exact series (`name{labels}`) in Prometheus text, 0 if absent.
double metric(const std::string& text, const std::string& series);

/// The proxy's /metrics; fails the test unless it answers 200.
std::string scrape(const proxy_process& p);
/// pgcache_queries_total{status="<status>"} of the proxy.
double queries(const proxy_process& p, const char* status);

/// The /metrics/queries entry with `fingerprint`, or null.
nlohmann::json query_entry(std::uint16_t metrics_port, const std::string& fingerprint);

/// Polls `done` until it holds or `seconds` pass; returns the last answer.
bool eventually(const std::function<bool()>& done, double seconds = 30);

}  // namespace proxy_test
