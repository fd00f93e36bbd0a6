// What the pooler's integration tests share: the pooler binary on free ports
// with a config the test writes, libpq clients, a PostgreSQL cluster of the
// test's own (to stop, hang and restart), HTTP probes with their latency, and
// shell commands.
#pragma once

#include <libpq-fe.h>
#include <sys/types.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/listen_port.hpp"

namespace pooler_test {

using namespace std::chrono_literals;

/// The variable's value; fails the test when it is unset.
std::string env(const char* name);

/// The shared PostgreSQL from OBS_TEST_PG_*.
struct pg_env {
  std::string host = env("OBS_TEST_PG_HOST"), port = env("OBS_TEST_PG_PORT"), user = env("OBS_TEST_PG_USER"),
              password = env("OBS_TEST_PG_PASSWORD"), db = env("OBS_TEST_PG_DB");
};

std::string random_suffix();

/// Runs a shell command; returns its output (stdout and stderr) and exit code.
std::pair<std::string, int> run(const std::string& command);

/// `s` quoted for sh.
std::string quote(const std::string& s);

/// A free port below the ephemeral range, which a stopped server gets back.
using obs_test::free_port;

/// A TCP connection to 127.0.0.1:port, or -1.
int connect_tcp(int port);

std::string conninfo(const std::string& host, const std::string& port, const std::string& db, const std::string& user,
                     const std::string& password);

/// A libpq connection; `ok()` says whether it logged in.
class client_conn {
 public:
  explicit client_conn(const std::string& conninfo) : c_(PQconnectdb(conninfo.c_str())) {}
  ~client_conn() { PQfinish(c_); }
  client_conn(const client_conn&) = delete;
  bool ok() const { return PQstatus(c_) == CONNECTION_OK; }
  std::string error() const { return PQerrorMessage(c_); }
  PGconn* get() const { return c_; }
  /// The first value of the first row; fails the test on an error.
  std::string value(const std::string& sql);
  /// Whether running `sql` fails (with or without an SQLSTATE).
  bool fails(const std::string& sql);
  /// The SQLSTATE of running `sql`, or "" on success.
  std::string sqlstate(const std::string& sql);
  /// Sends `bytes` past libpq on its socket; returns all that comes back
  /// until the pooler closes it.
  std::string send_raw(const std::string& bytes);

 private:
  PGconn* c_;
};

/// Polls `ready` until it holds or `limit` passes (30 s is generous for
/// ASan on a loaded machine).
template <class F>
bool eventually(F ready, std::chrono::steady_clock::duration limit = 30s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (ready()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return ready();
}

/// The value of the series `series` (name and labels exactly as rendered).
std::optional<double> metric(const std::string& scrape, const std::string& series);

/// Roles and databases on a PostgreSQL, dropped at the end.
class pg_admin {
 public:
  pg_admin(std::string host, std::string port, std::string password, std::string db)
      : host_(std::move(host)), port_(std::move(port)), password_(std::move(password)), db_(std::move(db)) {}
  ~pg_admin();
  pg_admin(pg_admin&&) = default;
  void exec(const std::string& sql);
  /// The first value of the first row of `sql`.
  std::string value(const std::string& sql);
  void try_exec(const std::string& sql);
  void scram_role(const std::string& name, const std::string& password);
  void md5_role(const std::string& name, const std::string& password);
  void database(const std::string& name);
  const std::string& host() const { return host_; }
  const std::string& port() const { return port_; }
  const std::string& password() const { return password_; }
  const std::string& db() const { return db_; }

 private:
  std::string host_, port_, password_, db_;
  std::vector<std::string> cleanup_;
};

pg_admin shared_pg();

/// A PostgreSQL cluster of the test's own (tests/support/pg-cluster), for
/// faults the shared one must not suffer: stopped, hung, restarted.
class pg_cluster {
 public:
  pg_cluster();
  ~pg_cluster();
  pg_cluster(const pg_cluster&) = delete;
  void start();
  void stop();
  /// SIGSTOP to the postmaster and every backend: PostgreSQL hangs, its
  /// port still accepting connections into the backlog.
  void pause();
  /// SIGSTOP to one backend of the cluster.
  void pause_backend(pid_t pid);
  /// SIGCONT to them all.
  void resume();
  pg_admin admin() const { return pg_admin("127.0.0.1", port_, password_, "postgres"); }
  const std::string& dir() const { return dir_; }

 private:
  std::vector<pid_t> processes() const;
  std::string dir_, port_, password_ = "cluster-pw", script_;
  bool paused_ = false;
};

/// One HTTP response, and how long it took from connect to the last byte.
struct http_reply {
  int status = 0;
  std::string body;
  std::chrono::milliseconds elapsed{0};
};

/// GET on a fresh connection; status 0 if none could be made. Asserts
/// nothing, so that any thread may call it.
http_reply http_get(int port, const std::string& path);

/// A keep-alive HTTP connection: opened once, it needs no descriptor of the
/// server's for later requests.
class http_conn {
 public:
  explicit http_conn(int port);
  ~http_conn();
  http_conn(const http_conn&) = delete;
  http_reply get(const std::string& path);

 private:
  int fd_;
};

/// The pooler binary on free ports, with a config file the test writes.
class pooler_process {
 public:
  /// `max_files`, if set, is the pooler's RLIMIT_NOFILE.
  explicit pooler_process(const std::string& config_body, unsigned max_files = 0);
  ~pooler_process();
  void write_config(const std::string& body);
  void start();
  /// SIGTERM, then waits; true if it exited with status 0.
  bool stop();
  /// Sends SIGTERM and returns at once.
  void terminate();
  /// Waits up to `limit` for the process to end; its wait status, or nothing.
  std::optional<int> wait_exit(std::chrono::milliseconds limit);
  int port() const { return port_; }
  int metrics_port() const { return metrics_port_; }
  std::string port_text() const { return std::to_string(port_); }
  std::string scrape() const;
  std::string metrics_url() const { return "http://127.0.0.1:" + std::to_string(metrics_port_) + "/metrics"; }
  /// psql against the admin console: unaligned rows, '|' between fields.
  std::pair<std::string, int> admin(const std::string& sql) const;
  std::string client(const std::string& db, const std::string& user, const std::string& password) const {
    return conninfo("127.0.0.1", port_text(), db, user, password);
  }
  std::string log() const;
  const std::string& dir() const { return dir_; }

 private:
  /// Starts it and waits until it is up: true, or false if it ended
  /// first (its log says why); fails the test if it is neither in 30 s.
  bool try_start();

  std::string dir_;
  int port_ = 0, metrics_port_ = 0;
  unsigned max_files_ = 0;
  pid_t pid_ = -1;
};

std::string database_section(const std::string& name, const pg_admin& pg, const std::string& extra = "");
std::string user_section(const std::string& db, const std::string& user, const std::string& password,
                         const std::string& extra = "");
std::string auth_query_section(const std::string& name, const pg_admin& pg, const std::string& extra = "");

/// Whether `s` has the shape `pattern`, where '9' stands for any digit.
bool shaped(const std::string& s, const std::string& pattern);
/// Seconds as SHOW AUTH_QUERY_CACHE prints them: digits and an 's'.
bool seconds_text(const std::string& s);
/// The row of `table` (psql -At output) whose fields start with `prefix`.
std::string row_with(const std::string& table, const std::string& prefix);
std::vector<std::string> fields(const std::string& row);

/// Everything a raw socket receives until the peer closes or `limit` passes.
std::string read_all(int fd, std::chrono::seconds limit = 20s);
/// `v` as 4 big-endian bytes.
std::string be32(std::uint32_t v);

}  // namespace pooler_test
