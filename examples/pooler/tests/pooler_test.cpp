// Integration tests: the pooler binary against a real PostgreSQL (the shared
// one from OBS_TEST_PG_*, or a cluster of the test's own where PostgreSQL
// must stop), with libpq, psql, pgbench, curl and promtool as clients.
#include <libpq-fe.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <exception>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace {

using namespace std::chrono_literals;

std::string env(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) FAIL("environment variable " << name << " is not set (tests/run exports it)");
  return v;
}

struct pg_env {
  std::string host = env("OBS_TEST_PG_HOST"), port = env("OBS_TEST_PG_PORT"), user = env("OBS_TEST_PG_USER"),
              password = env("OBS_TEST_PG_PASSWORD"), db = env("OBS_TEST_PG_DB");
};

std::string random_suffix() {
  std::random_device rd;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", static_cast<unsigned>(rd()));
  return buf;
}

// Runs a shell command; returns its output (stdout and stderr) and exit code.
std::pair<std::string, int> run(const std::string& command) {
  std::string out;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  REQUIRE(p);
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int status = pclose(p);
  return {out, WIFEXITED(status) ? WEXITSTATUS(status) : -1};
}

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

int connect_tcp(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// A libpq connection; `ok()` says whether it logged in.
class client_conn {
 public:
  explicit client_conn(const std::string& conninfo) : c_(PQconnectdb(conninfo.c_str())) {}
  ~client_conn() { PQfinish(c_); }
  client_conn(const client_conn&) = delete;
  bool ok() const { return PQstatus(c_) == CONNECTION_OK; }
  std::string error() const { return PQerrorMessage(c_); }
  PGconn* get() const { return c_; }
  // The first value of the first row; fails the test on an error.
  std::string value(const std::string& sql) {
    PGresult* r = PQexec(c_, sql.c_str());
    INFO(sql << ": " << PQerrorMessage(c_));
    REQUIRE((PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK));
    std::string v = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "";
    PQclear(r);
    return v;
  }
  // Whether running `sql` fails (with or without an SQLSTATE).
  bool fails(const std::string& sql) {
    PGresult* r = PQexec(c_, sql.c_str());
    bool failed = PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK;
    PQclear(r);
    return failed;
  }
  // The SQLSTATE of running `sql`, or "" on success.
  std::string sqlstate(const std::string& sql) {
    PGresult* r = PQexec(c_, sql.c_str());
    const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    std::string s = state ? state : "";
    PQclear(r);
    return s;
  }

 private:
  PGconn* c_;
};

std::string conninfo(const std::string& host, const std::string& port, const std::string& db, const std::string& user,
                     const std::string& password) {
  return "host=" + host + " port=" + port + " dbname=" + db + " user=" + user + " password=" + password +
         " connect_timeout=20";
}

// Polls `ready` until it holds or 30 s pass (generous for ASan on a loaded machine).
template <class F>
bool eventually(F ready) {
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (ready()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return ready();
}

// The value of the series `series` (name and labels exactly as rendered).
std::optional<double> metric(const std::string& scrape, const std::string& series) {
  auto at = scrape.find("\n" + series + " ");
  if (at == std::string::npos) return std::nullopt;
  return std::stod(scrape.substr(at + series.size() + 2));
}

// Roles and databases on a PostgreSQL, dropped at the end.
class pg_admin {
 public:
  pg_admin(std::string host, std::string port, std::string password, std::string db)
      : host_(std::move(host)), port_(std::move(port)), password_(std::move(password)), db_(std::move(db)) {}
  ~pg_admin() {
    for (auto it = cleanup_.rbegin(); it != cleanup_.rend(); ++it) try_exec(*it);
  }
  void exec(const std::string& sql) {
    client_conn c(conninfo(host_, port_, db_, "postgres", password_));
    INFO(c.error());
    REQUIRE(c.ok());
    c.value(sql);
  }
  void try_exec(const std::string& sql) {
    client_conn c(conninfo(host_, port_, db_, "postgres", password_));
    if (c.ok()) PQclear(PQexec(c.get(), sql.c_str()));
  }
  void scram_role(const std::string& name, const std::string& password) {
    exec("CREATE ROLE " + name + " LOGIN PASSWORD '" + password + "'");
    cleanup_.push_back("DROP ROLE IF EXISTS " + name);
  }
  void md5_role(const std::string& name, const std::string& password) {
    exec("SET password_encryption = 'md5'; CREATE ROLE " + name + " LOGIN PASSWORD '" + password + "'");
    cleanup_.push_back("DROP ROLE IF EXISTS " + name);
  }
  void database(const std::string& name) {
    exec("CREATE DATABASE " + name);
    cleanup_.push_back("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
  }
  const std::string& host() const { return host_; }
  const std::string& port() const { return port_; }
  const std::string& password() const { return password_; }
  const std::string& db() const { return db_; }

 private:
  std::string host_, port_, password_, db_;
  std::vector<std::string> cleanup_;
};

// The pooler binary on free ports, with a config file the test writes.
class pooler_process {
 public:
  explicit pooler_process(const std::string& config_body) {
    char tmpl[] = "/tmp/pooler_test_XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    port_ = free_port();
    metrics_port_ = free_port();
    write_config(config_body);
    start();
  }
  ~pooler_process() {
    const bool clean = stop();
    // A crash at shutdown, or a sanitizer's report at any time, ends the
    // pooler with another status than a clean 0; its log says why.
    if (std::uncaught_exceptions() == 0) {
      INFO(log());
      CHECK(clean);
    }
    run("rm -rf " + quote(dir_));
  }
  void write_config(const std::string& body) {
    std::ofstream(dir_ + "/pooler.toml") << "[general]\nadmin_user = \"admin\"\nadmin_password = \"admin-pw\"\n" << body;
  }
  void start() {
    std::string listen = "127.0.0.1:" + std::to_string(port_);
    std::string metrics_listen = "127.0.0.1:" + std::to_string(metrics_port_);
    std::string config = dir_ + "/pooler.toml";
    std::string log = dir_ + "/log";
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    const char* argv[] = {POOLER_BINARY, "--config", config.c_str(), "--listen", listen.c_str(),
                          "--metrics-listen", metrics_listen.c_str(), nullptr};
    REQUIRE(posix_spawn(&pid_, POOLER_BINARY, &actions, nullptr, const_cast<char**>(argv), environ) == 0);
    posix_spawn_file_actions_destroy(&actions);
    REQUIRE(eventually([&] {
      int fd = connect_tcp(port_);
      if (fd >= 0) ::close(fd);
      return fd >= 0 && !scrape().empty();
    }));
  }
  // Stops the pooler; true if it exited with status 0.
  bool stop() {
    if (pid_ <= 0) return true;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  int port() const { return port_; }
  std::string port_text() const { return std::to_string(port_); }
  std::string scrape() const { return run("curl -sf http://127.0.0.1:" + std::to_string(metrics_port_) + "/metrics").first; }
  std::string metrics_url() const { return "http://127.0.0.1:" + std::to_string(metrics_port_) + "/metrics"; }
  // psql against the admin console: unaligned rows, '|' between fields.
  std::pair<std::string, int> admin(const std::string& sql) const {
    return run("PGPASSWORD=admin-pw psql -X -At -F '|' -h 127.0.0.1 -p " + port_text() + " -U admin -d pgdoorman -c " +
               quote(sql));
  }
  std::string client(const std::string& db, const std::string& user, const std::string& password) const {
    return conninfo("127.0.0.1", port_text(), db, user, password);
  }
  std::string log() const { return run("cat " + quote(dir_ + "/log")).first; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  int port_ = 0, metrics_port_ = 0;
  pid_t pid_ = -1;
};

std::string database_section(const std::string& name, const pg_admin& pg, const std::string& extra = "") {
  return "[databases." + name + "]\nhost = \"" + pg.host() + "\"\nport = " + pg.port() + "\ndbname = \"" + pg.db() +
         "\"\n" + extra;
}

std::string user_section(const std::string& db, const std::string& user, const std::string& password,
                         const std::string& extra = "") {
  return "[databases." + db + ".users." + user + "]\npassword = \"" + password + "\"\n" + extra;
}

std::string auth_query_section(const std::string& name, const pg_admin& pg, const std::string& extra = "") {
  return "[databases." + name + ".auth_query]\nuser = \"postgres\"\npassword = \"" + pg.password() + "\"\n" + extra;
}

// Whether `s` has the shape `pattern`, where '9' stands for any digit.
bool shaped(const std::string& s, const std::string& pattern) {
  if (s.size() != pattern.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i)
    if (pattern[i] == '9' ? !std::isdigit(static_cast<unsigned char>(s[i])) : s[i] != pattern[i]) return false;
  return true;
}

// Seconds as SHOW AUTH_QUERY_CACHE prints them: digits and an 's'.
bool seconds_text(const std::string& s) {
  return s.size() >= 2 && s.back() == 's' && s.find_first_not_of("0123456789") == s.size() - 1;
}

// The row of `table` (psql -At output) whose fields start with `prefix`.
std::string row_with(const std::string& table, const std::string& prefix) {
  std::size_t at = 0;
  while (at < table.size()) {
    auto end = table.find('\n', at);
    auto line = table.substr(at, end == std::string::npos ? std::string::npos : end - at);
    if (line.starts_with(prefix)) return line;
    if (end == std::string::npos) break;
    at = end + 1;
  }
  return {};
}

std::vector<std::string> fields(const std::string& row) {
  std::vector<std::string> out;
  std::size_t at = 0;
  for (;;) {
    auto bar = row.find('|', at);
    out.push_back(row.substr(at, bar == std::string::npos ? std::string::npos : bar - at));
    if (bar == std::string::npos) return out;
    at = bar + 1;
  }
}

pg_admin shared_pg() {
  pg_env e;
  return pg_admin(e.host, e.port, e.password, e.db);
}

}  // namespace

TEST_CASE("auth_query: alice logs in, SHOW POOLS, SHOW CLIENTS, SHOW AUTH_QUERY_CACHE and /metrics show it", "[bdd]") {
  auto pg = shared_pg();
  auto sfx = random_suffix();
  std::string alice = "pooler_alice_" + sfx, bob = "pooler_bob_" + sfx, db = "aq" + sfx;
  pg.scram_role(alice, "alice-pw");
  pg.scram_role(bob, "bob-pw");
  pooler_process pooler(database_section(db, pg) + user_section(db, bob, "bob-pw") +
                        auth_query_section(db, pg));

  // Given "alice" authenticated via auth_query
  client_conn c(pooler.client(db, alice, "alice-pw"));
  INFO(c.error() << pooler.log());
  REQUIRE(c.ok());
  CHECK(c.value("SELECT current_user") == alice);

  // When admin runs SHOW POOLS, then alice's pool shows source auth_query
  auto [pools, rc] = pooler.admin("SHOW POOLS");
  REQUIRE(rc == 0);
  auto alice_pool = fields(row_with(pools, db + "|" + alice + "|"));
  REQUIRE(alice_pool.size() == 18);
  CHECK(alice_pool.back() == "auth_query");
  CHECK(alice_pool[15] == "transaction");
  CHECK(fields(row_with(pools, db + "|" + bob + "|")).back() == "config");

  auto clients = pooler.admin("SHOW CLIENTS").first;
  CHECK(fields(row_with(clients, "C|" + alice + "|" + db + "|")).back() == "auth_query");

  // SHOW AUTH_QUERY_CACHE shows alice with password_type and cached_at
  auto cache = pooler.admin("show auth_query_cache;").first;
  auto entry = fields(row_with(cache, db + "|" + alice + "|"));
  REQUIRE(entry.size() == 7);
  CHECK(entry[2] == "SCRAM");
  CHECK(shaped(entry[3], "9999-99-99 99:99:99"));
  CHECK(seconds_text(entry[4]));
  CHECK(entry[5] == "false");
  CHECK(entry[6] == "never");

  auto executors = fields(row_with(pooler.admin("SHOW AUTH_QUERY_EXECUTORS").first, db + "|"));
  REQUIRE(executors.size() == 6);
  CHECK(executors[3] == "2");
  CHECK(executors[5] == "ready");

  // A second login is a cache hit and shares the pool.
  client_conn c2(pooler.client(db, alice, "alice-pw"));
  REQUIRE(c2.ok());
  client_conn b(pooler.client(db, bob, "bob-pw"));
  REQUIRE(b.ok());
  CHECK(b.value("SELECT current_user") == bob);

  // Prometheus metrics for auth_query, with the right values.
  auto scrape = pooler.scrape();
  std::string label = "{database=\"" + db + "\"}";
  CHECK(metric(scrape, "pg_doorman_auth_query_cache_hits_total" + label) == 1);
  CHECK(metric(scrape, "pg_doorman_auth_query_cache_misses_total" + label) == 1);
  CHECK(metric(scrape, "pg_doorman_auth_query_cache_refetches_total" + label) == 0);
  CHECK(metric(scrape, "pg_doorman_auth_query_cache_rate_limited_total" + label) == 0);
  CHECK(metric(scrape, "pg_doorman_auth_query_executor_active_connections" + label) == 0);
  CHECK(metric(scrape, "pg_doorman_auth_query_executor_errors_total" + label) == 0);
  CHECK(metric(scrape, "pg_doorman_auth_query_dynamic_pools" + label) == 1);
  CHECK(metric(scrape, "pg_doorman_auth_query_dynamic_pools_created_total" + label) == 1);
  CHECK(metric(scrape, "pg_doorman_auth_query_dynamic_pools_destroyed_total" + label) == 0);
  std::string service = "service=\"" + db + "/" + alice + "\"";
  CHECK(metric(scrape, "db_pool_connections{" + service + ",state=\"max\"}") == 20);
  CHECK(metric(scrape, "db_pool_connections{" + service + ",state=\"idle\"}") == 1);
  CHECK(metric(scrape, "db_pool_connections{" + service + ",state=\"active\"}") == 0);
  CHECK(metric(scrape, "db_pool_connections{" + service + ",state=\"waiting\"}") == 0);
  CHECK(metric(scrape, "db_pool_connection_errors_total{" + service + ",error_type=\"timeout\"}") == 0);
  CHECK(metric(scrape, "db_pool_acquire_duration_seconds_count{" + service + "}") >= 2);
  CHECK(scrape.find("# HELP pg_doorman_auth_query_cache_misses_total Number of auth_query cache misses (triggered PG query)") !=
        std::string::npos);

  // promtool check metrics on a live scrape.
  auto [lint, lint_rc] = run("curl -sf " + pooler.metrics_url() + " | promtool check metrics");
  INFO(lint);
  CHECK(lint_rc == 0);
}

TEST_CASE("auth_query: wrong password, unknown user (negative cache), rate-limited re-fetch", "[auth]") {
  auto pg = shared_pg();
  auto sfx = random_suffix();
  std::string alice = "pooler_alice_" + sfx, db = "neg" + sfx;
  pg.scram_role(alice, "alice-pw");
  pooler_process pooler(database_section(db, pg) + auth_query_section(db, pg, "min_interval = 60\n"));
  std::string label = "{database=\"" + db + "\"}";
  {
    client_conn ok(pooler.client(db, alice, "alice-pw"));
    REQUIRE(ok.ok());
  }
  // A wrong password against a cached entry re-fetches once...
  client_conn wrong(pooler.client(db, alice, "nope"));
  CHECK_FALSE(wrong.ok());
  CHECK(wrong.error().find("password authentication failed") != std::string::npos);
  auto scrape = pooler.scrape();
  CHECK(metric(scrape, "pg_doorman_auth_query_cache_refetches_total" + label) == 1);
  CHECK(metric(scrape, "pg_doorman_auth_query_cache_rate_limited_total" + label) == 0);
  // ...and the next failure within min_interval is rate limited.
  client_conn wrong2(pooler.client(db, alice, "nope"));
  CHECK_FALSE(wrong2.ok());
  scrape = pooler.scrape();
  CHECK(metric(scrape, "pg_doorman_auth_query_cache_refetches_total" + label) == 1);
  CHECK(metric(scrape, "pg_doorman_auth_query_cache_rate_limited_total" + label) == 1);
  auto entry = fields(row_with(pooler.admin("SHOW AUTH_QUERY_CACHE").first, db + "|" + alice + "|"));
  REQUIRE(entry.size() == 7);
  CHECK(shaped(entry[6], "99:99:99"));

  // An unknown user is fetched once, then answered from the negative cache.
  std::string ghost = "pooler_ghost_" + sfx;
  client_conn g1(pooler.client(db, ghost, "x"));
  CHECK_FALSE(g1.ok());
  client_conn g2(pooler.client(db, ghost, "x"));
  CHECK_FALSE(g2.ok());
  scrape = pooler.scrape();
  // misses: alice once and the ghost once; hits: alice twice, the ghost once.
  CHECK(metric(scrape, "pg_doorman_auth_query_cache_misses_total" + label) == 2);
  CHECK(metric(scrape, "pg_doorman_auth_query_cache_hits_total" + label) == 3);
  auto negative = fields(row_with(pooler.admin("SHOW AUTH_QUERY_CACHE").first, db + "|" + ghost + "|"));
  REQUIRE(negative.size() == 7);
  CHECK(negative[2] == "-");
  CHECK(negative[5] == "true");
  // No pool for users that failed.
  CHECK(row_with(pooler.admin("SHOW POOLS").first, db + "|" + ghost + "|").empty());
  CHECK(metric(scrape, "pg_doorman_auth_query_dynamic_pools" + label) == 1);
}

TEST_CASE("auth_query: concurrent logins of one user share one fetch", "[auth]") {
  auto pg = shared_pg();
  auto sfx = random_suffix();
  std::string dave = "pooler_dave_" + sfx, db = "co" + sfx;
  pg.scram_role(dave, "dave-pw");
  pooler_process pooler(database_section(db, pg) + auth_query_section(db, pg));
  std::vector<std::thread> logins;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i)
    logins.emplace_back([&] {
      client_conn c(pooler.client(db, dave, "dave-pw"));
      if (c.ok()) ++ok;
    });
  for (auto& t : logins) t.join();
  CHECK(ok == 8);
  auto scrape = pooler.scrape();
  std::string label = "{database=\"" + db + "\"}";
  CHECK(metric(scrape, "pg_doorman_auth_query_cache_misses_total" + label) == 1);
  CHECK(metric(scrape, "pg_doorman_auth_query_cache_hits_total" + label) == 7);
  CHECK(metric(scrape, "pg_doorman_auth_query_dynamic_pools_created_total" + label) == 1);
}

TEST_CASE("auth_query: executor errors while PostgreSQL is stopped, recovery, and MD5 pass-the-hash", "[cluster]") {
  pg_env e;  // fails early when the environment is missing
  auto [tmp, tmp_rc] = run("mktemp -d /tmp/pooler_cluster_XXXXXX");
  REQUIRE(tmp_rc == 0);
  std::string dir = tmp.substr(0, tmp.find('\n'));
  run("chmod 755 " + quote(dir));
  std::string cluster = std::string(POOLER_REPO_DIR) + "/tests/support/pg-cluster";
  std::string port = std::to_string(free_port());
  std::string password = "cluster-pw";
  auto [started, start_rc] = run("bash " + quote(cluster) + " start " + quote(dir) + " " + port + " " + password);
  INFO(started);
  REQUIRE(start_rc == 0);
  struct stop_cluster {
    std::string cmd, dir;
    ~stop_cluster() {
      run(cmd);
      run("rm -rf " + quote(dir));
    }
  } guard{"bash " + quote(cluster) + " stop " + quote(dir), dir};
  {
    pg_admin pg("127.0.0.1", port, password, "postgres");
    auto sfx = random_suffix();
    std::string alice = "pooler_alice_" + sfx, carol = "pooler_carol_" + sfx, mallory = "pooler_md5_" + sfx;
    pg.scram_role(alice, "alice-pw");
    pg.scram_role(carol, "carol-pw");
    pg.md5_role(mallory, "md5-pw");
    // Let the md5 role log in with md5 over TCP; everyone else keeps SCRAM.
    std::string hba = dir + "/data/pg_hba.conf";
    run("sed -i '1i host all " + mallory + " 127.0.0.1/32 md5' " + quote(hba) + " && chown postgres: " + quote(hba));
    pg.exec("SELECT pg_reload_conf()");
    std::string db = "down" + sfx;
    pooler_process pooler(database_section(db, pg, "pool_size = 2\n") + auth_query_section(db, pg, "dbname = \"postgres\"\n"));
    std::string label = "{database=\"" + db + "\"}";

    client_conn m(pooler.client(db, mallory, "md5-pw"));
    INFO(m.error());
    REQUIRE(m.ok());
    CHECK(m.value("SELECT current_user") == mallory);
    CHECK(fields(row_with(pooler.admin("SHOW AUTH_QUERY_CACHE").first, db + "|" + mallory + "|")).at(2) == "MD5");
    {
      client_conn a(pooler.client(db, alice, "alice-pw"));
      REQUIRE(a.ok());
    }
    run("bash " + quote(cluster) + " stop " + quote(dir));
    // carol is not cached: the executor cannot reach PostgreSQL.
    client_conn down(pooler.client(db, carol, "carol-pw"));
    CHECK_FALSE(down.ok());
    CHECK(down.error().find("auth_query failed") != std::string::npos);
    CHECK(metric(pooler.scrape(), "pg_doorman_auth_query_executor_errors_total" + label) >= 1);
    // alice is cached and her pool knows the server's parameters, so she
    // logs in; her first query finds no server.
    client_conn cached(pooler.client(db, alice, "alice-pw"));
    REQUIRE(cached.ok());
    CHECK(cached.fails("SELECT 1"));
    auto executors = fields(row_with(pooler.admin("SHOW AUTH_QUERY_EXECUTORS").first, db + "|"));
    REQUIRE(executors.size() == 6);

    auto [restarted, restart_rc] = run("bash " + quote(cluster) + " start " + quote(dir) + " " + port + " " + password);
    INFO(restarted);
    REQUIRE(restart_rc == 0);
    client_conn back(pooler.client(db, carol, "carol-pw"));
    INFO(back.error());
    REQUIRE(back.ok());
    CHECK(back.value("SELECT current_user") == carol);
    client_conn again(pooler.client(db, alice, "alice-pw"));
    REQUIRE(again.ok());
    CHECK(again.value("SELECT 40 + 2") == "42");
  }
}

TEST_CASE("auth_query: an idle dynamic pool is garbage-collected and its series removed", "[gc]") {
  auto pg = shared_pg();
  auto sfx = random_suffix();
  std::string alice = "pooler_alice_" + sfx, db = "gc" + sfx;
  pg.scram_role(alice, "alice-pw");
  pooler_process pooler("gc_interval = 0.2\n" + database_section(db, pg) + auth_query_section(db, pg, "idle_timeout = 1\n"));
  std::string service = "db_pool_connections{service=\"" + db + "/" + alice + "\",state=\"max\"}";
  std::string label = "{database=\"" + db + "\"}";
  {
    client_conn a(pooler.client(db, alice, "alice-pw"));
    REQUIRE(a.ok());
    CHECK(metric(pooler.scrape(), service) == 20);
  }
  CHECK(eventually([&] { return !metric(pooler.scrape(), service); }));
  auto scrape = pooler.scrape();
  CHECK(scrape.find("service=\"" + db + "/" + alice + "\"") == std::string::npos);
  CHECK(metric(scrape, "pg_doorman_auth_query_dynamic_pools" + label) == 0);
  CHECK(metric(scrape, "pg_doorman_auth_query_dynamic_pools_destroyed_total" + label) == 1);
  CHECK(row_with(pooler.admin("SHOW POOLS").first, db + "|" + alice + "|").empty());
}

TEST_CASE("RELOAD re-reads the config, clears the cache and destroys dynamic pools", "[reload]") {
  auto pg = shared_pg();
  auto sfx = random_suffix();
  std::string alice = "pooler_alice_" + sfx, bob = "pooler_bob_" + sfx, db = "rl" + sfx;
  pg.scram_role(alice, "alice-pw");
  pg.scram_role(bob, "bob-pw");
  std::string base = database_section(db, pg) + auth_query_section(db, pg);
  pooler_process pooler(base);
  std::string label = "{database=\"" + db + "\"}";
  {
    client_conn a(pooler.client(db, alice, "alice-pw"));
    REQUIRE(a.ok());
  }
  CHECK_FALSE(row_with(pooler.admin("SHOW AUTH_QUERY_CACHE").first, db + "|" + alice + "|").empty());

  // bob becomes a static user with a pool of 3.
  pooler.write_config(base + user_section(db, bob, "bob-pw", "pool_size = 3\n"));
  auto [out, rc] = pooler.admin("RELOAD");
  INFO(out);
  CHECK(rc == 0);
  auto pools = pooler.admin("SHOW POOLS").first;
  CHECK(row_with(pools, db + "|" + alice + "|").empty());
  CHECK(fields(row_with(pools, db + "|" + bob + "|")).back() == "config");
  CHECK(row_with(pooler.admin("SHOW AUTH_QUERY_CACHE").first, db + "|" + alice + "|").empty());
  auto scrape = pooler.scrape();
  CHECK(metric(scrape, "pg_doorman_auth_query_dynamic_pools_destroyed_total" + label) == 1);
  CHECK(metric(scrape, "pg_doorman_auth_query_dynamic_pools" + label) == 0);
  CHECK(metric(scrape, "db_pool_connections{service=\"" + db + "/" + bob + "\",state=\"max\"}") == 3);
  CHECK_FALSE(metric(scrape, "db_pool_connections{service=\"" + db + "/" + alice + "\",state=\"max\"}"));
  client_conn b(pooler.client(db, bob, "bob-pw"));
  REQUIRE(b.ok());

  // A broken config is refused with the key named, and the old one stays.
  pooler.write_config(base + user_section(db, bob, "bob-pw", "pool_size = \"many\"\n"));
  auto [bad, bad_rc] = pooler.admin("RELOAD");
  CHECK(bad_rc != 0);
  CHECK(bad.find(".users." + bob + ".pool_size") != std::string::npos);
  CHECK(metric(pooler.scrape(), "db_pool_connections{service=\"" + db + "/" + bob + "\",state=\"max\"}") == 3);
}

TEST_CASE("50 concurrent pgbench clients share a pool of 10, the db_pool_* counts are exact afterwards", "[load]") {
  auto pg = shared_pg();
  auto sfx = random_suffix();
  std::string user = "pooler_bench_" + sfx, db = "load" + sfx;
  pg.scram_role(user, "bench-pw");
  pooler_process pooler(database_section(db, pg) + user_section(db, user, "bench-pw", "pool_size = 10\n"));
  std::ofstream(pooler.dir() + "/script.sql") << "BEGIN;\nSELECT 1;\nSELECT pg_sleep(0.001);\nEND;\n";
  auto [out, rc] = run("PGPASSWORD=bench-pw pgbench -n -c 50 -j 2 -T 3 -h 127.0.0.1 -p " + pooler.port_text() + " -U " +
                       user + " -f " + quote(pooler.dir() + "/script.sql") + " " + db);
  INFO(out);
  REQUIRE(rc == 0);
  const std::string processed_label = "number of transactions actually processed: ";
  auto at = out.find(processed_label);
  REQUIRE(at != std::string::npos);
  double processed = std::stod(out.substr(at + processed_label.size()));
  CHECK(processed > 0);
  CHECK(out.find("number of failed transactions: 0 ") != std::string::npos);
  std::string service = "service=\"" + db + "/" + user + "\"";
  auto scrape = pooler.scrape();
  CHECK(metric(scrape, "db_pool_connections{" + service + ",state=\"active\"}") == 0);
  CHECK(metric(scrape, "db_pool_connections{" + service + ",state=\"idle\"}") == 10);
  CHECK(metric(scrape, "db_pool_connections{" + service + ",state=\"max\"}") == 10);
  CHECK(metric(scrape, "db_pool_connections{" + service + ",state=\"waiting\"}") == 0);
  CHECK(metric(scrape, "db_pool_connection_errors_total{" + service + ",error_type=\"timeout\"}") == 0);
  CHECK(metric(scrape, "db_pool_connection_errors_total{" + service + ",error_type=\"closed\"}") == 0);
  CHECK(metric(scrape, "db_pool_connection_errors_total{" + service + ",error_type=\"other\"}") == 0);
  // One acquire per transaction, plus the first login's parameter fetch.
  CHECK(metric(scrape, "db_pool_acquire_duration_seconds_count{" + service + "}") == processed + 1);
  auto stats = fields(row_with(pooler.admin("SHOW STATS").first, db + "|"));
  REQUIRE(stats.size() == 15);
  CHECK(std::stod(stats[1]) == processed);
}

TEST_CASE("session mode keeps one server per client and resets it on release", "[session]") {
  auto pg = shared_pg();
  auto sfx = random_suffix();
  std::string user = "pooler_sess_" + sfx, db = "sess" + sfx;
  pg.scram_role(user, "sess-pw");
  pooler_process pooler(database_section(db, pg) + user_section(db, user, "sess-pw", "pool_size = 1\npool_mode = \"session\"\n"));
  std::string pid;
  {
    client_conn c(pooler.client(db, user, "sess-pw"));
    REQUIRE(c.ok());
    c.value("CREATE TEMP TABLE t (x int)");
    pid = c.value("SELECT pg_backend_pid()");
    c.value("PREPARE q AS SELECT 7");
    CHECK(c.value("EXECUTE q") == "7");
    CHECK(c.value("SELECT count(*) FROM t") == "0");
  }
  client_conn next(pooler.client(db, user, "sess-pw"));
  REQUIRE(next.ok());
  CHECK(eventually([&] { return next.value("SELECT pg_backend_pid()") == pid; }));
  CHECK(next.sqlstate("SELECT count(*) FROM t") == "42P01");  // DISCARD ALL dropped the temp table
}

TEST_CASE("bad input: malformed startup, oversized length, garbage, a client vanishing mid-transaction", "[bad]") {
  auto pg = shared_pg();
  auto sfx = random_suffix();
  std::string user = "pooler_bad_" + sfx, db = "bad" + sfx;
  pg.scram_role(user, "bad-pw");
  pooler_process pooler(database_section(db, pg) + user_section(db, user, "bad-pw", "pool_size = 1\n"));
  auto send_raw = [&](const std::string& bytes) {
    int fd = connect_tcp(pooler.port());
    REQUIRE(fd >= 0);
    ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    ::shutdown(fd, SHUT_WR);
    std::string reply;
    char buf[4096];
    timeval tv{20, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) reply.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
    return reply;
  };
  auto be32 = [](std::uint32_t v) {
    return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
  };
  // Oversized length: refused without allocating it.
  CHECK(send_raw(be32(0x7fffffff) + be32(196608)).find("08P01") != std::string::npos);
  // Length below the minimum.
  CHECK(send_raw(be32(2) + "xxxx").find("08P01") != std::string::npos);
  // A StartupMessage without user.
  std::string no_user = be32(196608) + "database" + std::string(1, '\0') + "x" + std::string(2, '\0');
  CHECK(send_raw(be32(static_cast<std::uint32_t>(no_user.size() + 4)) + no_user).find("08P01") != std::string::npos);
  // An unknown protocol version.
  CHECK(send_raw(be32(8) + be32(0x00020000)).find("08P01") != std::string::npos);
  // Garbage, and a truncated packet.
  send_raw("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  send_raw(be32(100) + "abc");
  // An SSLRequest is answered 'N'.
  CHECK(send_raw(be32(8) + be32(80877103)).substr(0, 1) == "N");

  // After login: an oversized message from a client closes it with 08P01.
  {
    client_conn c(pooler.client(db, user, "bad-pw"));
    REQUIRE(c.ok());
    int fd = PQsocket(c.get());
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);  // libpq's socket is non-blocking
    std::string huge = "Q" + be32(0x7ffffff0);
    ::send(fd, huge.data(), huge.size(), MSG_NOSIGNAL);
    std::string reply;
    char buf[4096];
    timeval tv{20, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) reply.append(buf, static_cast<std::size_t>(n));
    CHECK(reply.find("08P01") != std::string::npos);
    CHECK(reply.find("exceeds the limit") != std::string::npos);
  }

  // A client vanishes inside a transaction: its server is closed, never reused.
  std::string pid_in_tx;
  {
    client_conn c(pooler.client(db, user, "bad-pw"));
    REQUIRE(c.ok());
    c.value("BEGIN");
    c.value("CREATE TEMP TABLE leaked (x int)");
    pid_in_tx = c.value("SELECT pg_backend_pid()");
    ::shutdown(PQsocket(c.get()), SHUT_RDWR);  // no Terminate, no ROLLBACK
  }
  client_conn after(pooler.client(db, user, "bad-pw"));
  INFO(after.error() << pooler.log());
  REQUIRE(after.ok());
  CHECK(after.value("SELECT pg_backend_pid()") != pid_in_tx);
  CHECK(PQtransactionStatus(after.get()) == PQTRANS_IDLE);
  CHECK(after.sqlstate("SELECT * FROM leaked") == "42P01");

  // Unknown admin command: ErrorResponse 58000, and the console stays usable.
  client_conn admin(pooler.client("pgdoorman", "admin", "admin-pw"));
  REQUIRE(admin.ok());
  CHECK(admin.sqlstate("SHOW NONSENSE") == "58000");
  CHECK(admin.sqlstate("SHOW POOLS") == "");
  CHECK(admin.sqlstate("") == "");
  CHECK(admin.sqlstate("SELECT 1") == "58000");  // SQL is not an admin command
  client_conn wrong_admin(pooler.client("pgdoorman", "admin", "wrong"));
  CHECK_FALSE(wrong_admin.ok());
  client_conn unknown_db(pooler.client("nosuchdb" + sfx, user, "bad-pw"));
  CHECK_FALSE(unknown_db.ok());
  CHECK(unknown_db.error().find("no such database") != std::string::npos);

  // Still serving.
  CHECK(after.value("SELECT 1") == "1");
}

TEST_CASE("a CancelRequest reaches the server running the client's query", "[cancel]") {
  auto pg = shared_pg();
  auto sfx = random_suffix();
  std::string user = "pooler_cancel_" + sfx, db = "cancel" + sfx;
  pg.scram_role(user, "cancel-pw");
  pooler_process pooler(database_section(db, pg) + user_section(db, user, "cancel-pw"));
  client_conn c(pooler.client(db, user, "cancel-pw"));
  REQUIRE(c.ok());
  REQUIRE(PQsendQuery(c.get(), "SELECT pg_sleep(30)") == 1);
  std::this_thread::sleep_for(300ms);
  PGcancel* cancel = PQgetCancel(c.get());
  char err[256];
  CHECK(PQcancel(cancel, err, sizeof err) == 1);
  PQfreeCancel(cancel);
  PGresult* r = PQgetResult(c.get());
  const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  CHECK(std::string(state ? state : "") == "57014");
  PQclear(r);
  while ((r = PQgetResult(c.get()))) PQclear(r);
  CHECK(c.value("SELECT 2") == "2");
}

TEST_CASE("psql renders every admin reply", "[admin]") {
  auto pg = shared_pg();
  auto sfx = random_suffix();
  std::string db = "adm" + sfx;
  pooler_process pooler(database_section(db, pg) + auth_query_section(db, pg));
  for (const char* command : {"SHOW POOLS", "SHOW CLIENTS", "SHOW SERVERS", "SHOW STATS", "SHOW AUTH_QUERY_CACHE",
                              "SHOW AUTH_QUERY_EXECUTORS", "SHOW DATABASES", "SHOW LISTS", "SHOW CONFIG",
                              "SHOW VERSION", "SET extra_float_digits = 3", "show pools;", "SHOW LISTS; SHOW STATS;",
                              "RELOAD"}) {
    auto [out, rc] = run("PGPASSWORD=admin-pw psql -X -h 127.0.0.1 -p " + pooler.port_text() +
                         " -U admin -d pgbouncer -c " + quote(command));
    INFO(command << "\n" << out);
    CHECK(rc == 0);
    CHECK(out.find("ERROR") == std::string::npos);
  }
  auto [out, rc] = run("PGPASSWORD=admin-pw psql -X -h 127.0.0.1 -p " + pooler.port_text() +
                       " -U admin -d pgbouncer -c 'SHOW BOGUS'");
  CHECK(rc != 0);
  CHECK(out.find("unsupported admin command") != std::string::npos);
}

TEST_CASE("a bad config fails at start with the key named", "[config]") {
  char tmpl[] = "/tmp/pooler_badcfg_XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  std::ofstream(dir + "/p.toml") << "[databases.app]\npool_size = -1\n";
  auto [out, rc] = run(std::string(POOLER_BINARY) + " --config " + quote(dir + "/p.toml"));
  CHECK(rc == 1);
  CHECK(out.find("databases.app.pool_size") != std::string::npos);
  auto [usage, usage_rc] = run(std::string(POOLER_BINARY) + " --bogus");
  CHECK(usage_rc == 2);
  run("rm -rf " + quote(dir));
}

TEST_CASE("every dashboard panel and alert expression finds the pooler's series in a real Prometheus", "[monitoring]") {
  auto pg = shared_pg();
  auto sfx = random_suffix();
  std::string user = "pooler_dash_" + sfx, alice = "pooler_dalice_" + sfx, db = "dash" + sfx;
  pg.scram_role(user, "dash-pw");
  pg.scram_role(alice, "alice-pw");
  pooler_process pooler(database_section(db, pg) + user_section(db, user, "dash-pw", "pool_size = 4\n") +
                        auth_query_section(db, pg));
  // Traffic, so the counters and the acquire histogram have samples: a
  // static user under pgbench, and an auth_query login (a dynamic pool).
  std::ofstream(pooler.dir() + "/script.sql") << "SELECT 1;\n";
  auto [bench, bench_rc] = run("PGPASSWORD=dash-pw pgbench -n -c 4 -j 2 -t 20 -h 127.0.0.1 -p " + pooler.port_text() +
                               " -U " + user + " -f " + quote(pooler.dir() + "/script.sql") + " " + db);
  INFO(bench);
  REQUIRE(bench_rc == 0);
  client_conn c(pooler.client(db, alice, "alice-pw"));
  INFO(c.error() << pooler.log());
  REQUIRE(c.ok());

  const std::string tools = std::string(POOLER_REPO_DIR) + "/examples/common/monitoring";
  const std::string files = std::string(POOLER_SOURCE_DIR);
  auto address = pooler.metrics_url().substr(std::string("http://").size());
  address = address.substr(0, address.find('/'));
  // Every selector must match series; only alerts may be quiet.
  auto [out, rc] = run("python3 " + quote(tools + "/check_queries.py") + " --prometheus \"$(command -v prometheus)\"" +
                       " --target " + address + " --dashboard " + quote(files + "/grafana/dashboard.json") +
                       " --rules " + quote(files + "/prometheus/alerts/database.rules.yml") +
                       " --require-data --allow-empty-alerts");
  INFO(out);
  CHECK(rc == 0);
}
