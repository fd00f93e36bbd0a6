#include "support.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <random>
#include <sstream>

namespace pooler_test {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) FAIL("environment variable " << name << " is not set (tests/run exports it)");
  return v;
}

std::string random_suffix() {
  std::random_device rd;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", static_cast<unsigned>(rd()));
  return buf;
}

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

std::string conninfo(const std::string& host, const std::string& port, const std::string& db, const std::string& user,
                     const std::string& password) {
  return "host=" + host + " port=" + port + " dbname=" + db + " user=" + user + " password=" + password +
         " connect_timeout=20";
}

std::string client_conn::value(const std::string& sql) {
  PGresult* r = PQexec(c_, sql.c_str());
  INFO(sql << ": " << PQerrorMessage(c_));
  REQUIRE((PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK));
  std::string v = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "";
  PQclear(r);
  return v;
}

bool client_conn::fails(const std::string& sql) {
  PGresult* r = PQexec(c_, sql.c_str());
  bool failed = PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK;
  PQclear(r);
  return failed;
}

std::string client_conn::sqlstate(const std::string& sql) {
  PGresult* r = PQexec(c_, sql.c_str());
  const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  std::string s = state ? state : "";
  PQclear(r);
  return s;
}

std::string client_conn::send_raw(const std::string& bytes) {
  int fd = PQsocket(c_);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);  // libpq's socket is non-blocking
  ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  return read_all(fd);
}

std::optional<double> metric(const std::string& scrape, const std::string& series) {
  auto at = scrape.find("\n" + series + " ");
  if (at == std::string::npos) return std::nullopt;
  return std::stod(scrape.substr(at + series.size() + 2));
}

pg_admin::~pg_admin() {
  for (auto it = cleanup_.rbegin(); it != cleanup_.rend(); ++it) try_exec(*it);
}

void pg_admin::exec(const std::string& sql) { value(sql); }

std::string pg_admin::value(const std::string& sql) {
  client_conn c(conninfo(host_, port_, db_, "postgres", password_));
  INFO(c.error());
  REQUIRE(c.ok());
  return c.value(sql);
}

void pg_admin::try_exec(const std::string& sql) {
  client_conn c(conninfo(host_, port_, db_, "postgres", password_));
  if (c.ok()) PQclear(PQexec(c.get(), sql.c_str()));
}

void pg_admin::scram_role(const std::string& name, const std::string& password) {
  exec("CREATE ROLE " + name + " LOGIN PASSWORD '" + password + "'");
  cleanup_.push_back("DROP ROLE IF EXISTS " + name);
}

void pg_admin::md5_role(const std::string& name, const std::string& password) {
  exec("SET password_encryption = 'md5'; CREATE ROLE " + name + " LOGIN PASSWORD '" + password + "'");
  cleanup_.push_back("DROP ROLE IF EXISTS " + name);
}

void pg_admin::database(const std::string& name) {
  exec("CREATE DATABASE " + name);
  cleanup_.push_back("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
}

pg_admin shared_pg() {
  pg_env e;
  return pg_admin(e.host, e.port, e.password, e.db);
}

pg_cluster::pg_cluster() {
  pg_env e;  // fails early when the environment is missing
  char tmpl[] = "/tmp/pooler_cluster_XXXXXX";
  REQUIRE(::mkdtemp(tmpl));
  dir_ = tmpl;
  ::chmod(dir_.c_str(), 0755);
  port_ = std::to_string(free_port());
  script_ = "bash " + quote(std::string(POOLER_REPO_DIR) + "/tests/support/pg-cluster");
  start();
}

pg_cluster::~pg_cluster() {
  resume();
  stop();
  run("rm -rf " + quote(dir_));
}

void pg_cluster::start() {
  auto [out, rc] = run(script_ + " start " + quote(dir_) + " " + port_ + " " + password_);
  INFO(out);
  REQUIRE(rc == 0);
}

void pg_cluster::stop() { run(script_ + " stop " + quote(dir_)); }

std::vector<pid_t> pg_cluster::processes() const {
  std::ifstream pidfile(dir_ + "/data/postmaster.pid");
  long postmaster = 0;
  pidfile >> postmaster;
  REQUIRE(postmaster > 0);
  std::vector<pid_t> out{static_cast<pid_t>(postmaster)};
  std::istringstream children(run("pgrep -P " + std::to_string(postmaster)).first);
  for (long pid; children >> pid;) out.push_back(static_cast<pid_t>(pid));
  return out;
}

void pg_cluster::pause() {
  // The postmaster first, so that it forks no backend the loop misses.
  for (pid_t pid : processes()) ::kill(pid, SIGSTOP);
  paused_ = true;
}

void pg_cluster::pause_backend(pid_t pid) {
  ::kill(pid, SIGSTOP);
  paused_ = true;
}

void pg_cluster::resume() {
  if (!paused_) return;
  for (pid_t pid : processes()) ::kill(pid, SIGCONT);
  paused_ = false;
}

namespace {

// Reads one response off `fd`: headers, then Content-Length bytes of body,
// or everything to EOF without one.
http_reply read_reply(int fd) {
  std::string reply;
  std::size_t body_at = std::string::npos, length = std::string::npos;
  while (body_at == std::string::npos || length == std::string::npos || reply.size() < body_at + length) {
    char buf[16384];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    reply.append(buf, static_cast<std::size_t>(n));
    if (body_at == std::string::npos && (body_at = reply.find("\r\n\r\n")) != std::string::npos) {
      body_at += 4;
      auto header = reply.find("Content-Length: ");
      if (header != std::string::npos && header < body_at) length = std::stoul(reply.substr(header + 16));
    }
  }
  http_reply out;
  if (reply.size() > 12) out.status = std::atoi(reply.c_str() + 9);
  if (body_at != std::string::npos) out.body = reply.substr(body_at);
  return out;
}

}  // namespace

http_reply http_get(int port, const std::string& path) {
  const auto start = std::chrono::steady_clock::now();
  http_reply out;
  int fd = connect_tcp(port);
  if (fd < 0) return out;
  const std::string request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  out = read_reply(fd);
  ::close(fd);
  out.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  return out;
}

http_conn::http_conn(int port) : fd_(connect_tcp(port)) { REQUIRE(fd_ >= 0); }

http_conn::~http_conn() { ::close(fd_); }

http_reply http_conn::get(const std::string& path) {
  const auto start = std::chrono::steady_clock::now();
  const std::string request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  REQUIRE(::send(fd_, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size()));
  auto out = read_reply(fd_);
  out.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  return out;
}

pooler_process::pooler_process(const std::string& config_body, unsigned max_files) : max_files_(max_files) {
  char tmpl[] = "/tmp/pooler_test_XXXXXX";
  dir_ = ::mkdtemp(tmpl);
  write_config(config_body);
  // A port is free when picked, and a test running beside this one may
  // bind it before the pooler does: such a start is tried again on others.
  for (int attempt = 1;; ++attempt) {
    port_ = free_port();
    metrics_port_ = free_port();
    if (try_start()) return;
    const std::string text = log();
    if (attempt == 3 || text.find("Address already in use") == std::string::npos)
      FAIL("the pooler exited as it started:\n" << text);
    std::ofstream(dir_ + "/log", std::ios::trunc);
  }
}

pooler_process::~pooler_process() {
  const bool clean = stop();
  // A crash at shutdown, or a sanitizer's report at any time, ends the
  // pooler with another status than a clean 0; its log says why.
  if (std::uncaught_exceptions() == 0) {
    INFO(log());
    CHECK(clean);
  }
  run("rm -rf " + quote(dir_));
}

void pooler_process::write_config(const std::string& body) {
  std::ofstream(dir_ + "/pooler.toml") << "[general]\nadmin_user = \"admin\"\nadmin_password = \"admin-pw\"\n" << body;
}

void pooler_process::start() {
  if (!try_start()) FAIL("the pooler exited as it started:\n" << log());
}

bool pooler_process::try_start() {
  std::string listen = "127.0.0.1:" + std::to_string(port_);
  std::string metrics_listen = "127.0.0.1:" + std::to_string(metrics_port_);
  std::string config = dir_ + "/pooler.toml";
  std::string log_path = dir_ + "/log";
  const char* argv[] = {POOLER_BINARY, "--config", config.c_str(), "--listen", listen.c_str(),
                        "--metrics-listen", metrics_listen.c_str(), nullptr};
  pid_ = ::fork();
  REQUIRE(pid_ >= 0);
  if (pid_ == 0) {
    if (max_files_) {
      const rlimit files{max_files_, max_files_};
      ::setrlimit(RLIMIT_NOFILE, &files);
    }
    int out = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(out, 1);
    ::dup2(out, 2);
    ::close(out);
    ::execv(POOLER_BINARY, const_cast<char**>(argv));
    ::_exit(127);
  }
  // Up once it accepts clients and answers a scrape; ended, it never will be.
  bool ended = false;
  const bool up = eventually([&] {
    int status = 0;
    ended = ::waitpid(pid_, &status, WNOHANG) == pid_;
    if (ended) return true;
    int fd = connect_tcp(port_);
    if (fd >= 0) ::close(fd);
    return fd >= 0 && !scrape().empty();
  });
  if (ended) {
    pid_ = -1;
    return false;
  }
  if (!up) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
    FAIL("the pooler did not answer within 30 s of its start:\n" << log());
  }
  return true;
}

bool pooler_process::stop() {
  if (pid_ <= 0) return true;
  ::kill(pid_, SIGTERM);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

void pooler_process::terminate() { ::kill(pid_, SIGTERM); }

std::optional<int> pooler_process::wait_exit(std::chrono::milliseconds limit) {
  std::optional<int> result;
  eventually(
      [&] {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) != pid_) return false;
        result = status;
        return true;
      },
      limit);
  if (result) pid_ = -1;
  return result;
}

std::string pooler_process::scrape() const {
  return run("curl -sf http://127.0.0.1:" + std::to_string(metrics_port_) + "/metrics").first;
}

std::pair<std::string, int> pooler_process::admin(const std::string& sql) const {
  return run("PGPASSWORD=admin-pw psql -X -At -F '|' -h 127.0.0.1 -p " + port_text() + " -U admin -d pgdoorman -c " +
             quote(sql));
}

std::string pooler_process::log() const { return run("cat " + quote(dir_ + "/log")).first; }

std::string database_section(const std::string& name, const pg_admin& pg, const std::string& extra) {
  return "[databases." + name + "]\nhost = \"" + pg.host() + "\"\nport = " + pg.port() + "\ndbname = \"" + pg.db() +
         "\"\n" + extra;
}

std::string user_section(const std::string& db, const std::string& user, const std::string& password,
                         const std::string& extra) {
  return "[databases." + db + ".users." + user + "]\npassword = \"" + password + "\"\n" + extra;
}

std::string auth_query_section(const std::string& name, const pg_admin& pg, const std::string& extra) {
  return "[databases." + name + ".auth_query]\nuser = \"postgres\"\npassword = \"" + pg.password() + "\"\n" + extra;
}

bool shaped(const std::string& s, const std::string& pattern) {
  if (s.size() != pattern.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i)
    if (pattern[i] == '9' ? !std::isdigit(static_cast<unsigned char>(s[i])) : s[i] != pattern[i]) return false;
  return true;
}

bool seconds_text(const std::string& s) {
  return s.size() >= 2 && s.back() == 's' && s.find_first_not_of("0123456789") == s.size() - 1;
}

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

std::string read_all(int fd, std::chrono::seconds limit) {
  std::string reply;
  char buf[4096];
  timeval tv{static_cast<time_t>(limit.count()), 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) reply.append(buf, static_cast<std::size_t>(n));
  return reply;
}

std::string be32(std::uint32_t v) { return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)}; }

}  // namespace pooler_test
