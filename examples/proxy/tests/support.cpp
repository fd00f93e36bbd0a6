#include "support.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <cstdlib>
#include <random>
#include <sstream>
#include <thread>

#include <catch2/catch.hpp>

namespace proxy_test {

std::string require_env(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) FAIL("environment variable " << name << " is not set (tests/run exports it)");
  return v;
}

std::string unique_suffix() {
  std::random_device rd;
  std::string s;
  for (int i = 0; i < 10; ++i) s += static_cast<char>('a' + rd() % 26);
  return s;
}

connection::connection(const std::string& conninfo) : conn_(PQconnectdb(conninfo.c_str())) {
  if (PQstatus(conn_) != CONNECTION_OK) FAIL("cannot connect: " << PQerrorMessage(conn_));
}

result connection::try_exec(const std::string& sql) { return {PQexec(conn_, sql.c_str()), &PQclear}; }

result connection::exec(const std::string& sql) {
  result r = try_exec(sql);
  auto st = PQresultStatus(r.get());
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) FAIL(sql << ": " << PQerrorMessage(conn_));
  return r;
}

std::string connection::scalar(const std::string& sql) {
  result r = exec(sql);
  REQUIRE(PQntuples(r.get()) >= 1);
  return PQgetisnull(r.get(), 0, 0) ? "NULL" : PQgetvalue(r.get(), 0, 0);
}

test_database::test_database() : name_("proxy_" + unique_suffix()) {
  connection admin(require_env("OBS_TEST_PG_URL"));
  admin.exec("CREATE DATABASE " + name_);
}

test_database::~test_database() {
  connection admin(require_env("OBS_TEST_PG_URL"));
  // Slots are scarce on the shared server: never leave one behind.
  admin.try_exec("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE '" +
                 name_ + "%'");
  admin.try_exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
}

std::string test_database::direct() const { return require_env("OBS_TEST_PG_URL") + " dbname=" + name_; }

proxy_process::proxy_process(const std::string& origin_conninfo, const std::string& slot,
                             std::vector<std::string> extra, unsigned max_files) {
  std::vector<std::string> args{OBS_PROXY_BIN,        "--origin",          origin_conninfo, "--listen",
                                "127.0.0.1:0",        "--metrics-listen",  "127.0.0.1:0",   "--cdc-interval-ms",
                                "50"};
  if (!slot.empty()) args.insert(args.end(), {"--slot", slot});  // else a name of the proxy's own
  args.insert(args.end(), extra.begin(), extra.end());
  int out[2];
  REQUIRE(pipe(out) == 0);
  pid_ = fork();
  REQUIRE(pid_ >= 0);
  if (pid_ == 0) {
    if (max_files) {
      const rlimit files{max_files, max_files};
      setrlimit(RLIMIT_NOFILE, &files);
    }
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    close(out[1]);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(out[1]);
  // The first line names both ports.
  std::string line;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd p{out[0], POLLIN, 0};
    if (poll(&p, 1, 500) <= 0) continue;
    char buf[256];
    ssize_t n = read(out[0], buf, sizeof buf);
    if (n <= 0) break;
    line.append(buf, static_cast<std::size_t>(n));
  }
  close(out[0]);
  unsigned p1 = 0, p2 = 0;
  auto at = line.find("listening on ");
  if (at == std::string::npos ||
      std::sscanf(line.c_str() + at, "listening on 127.0.0.1:%u, metrics on 127.0.0.1:%u", &p1, &p2) != 2)
    FAIL("obs_proxy did not start: " << line);
  port_ = static_cast<std::uint16_t>(p1);
  metrics_port_ = static_cast<std::uint16_t>(p2);
}

proxy_process::~proxy_process() {
  if (pid_ <= 0) return;
  const int status = terminate();
  // A crash at shutdown, or a sanitizer's report at any time (its text is on
  // stderr), ends the proxy with another status than a clean 0.
  if (std::uncaught_exceptions() == 0) CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
}

int proxy_process::terminate() {
  kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return status;
}

std::string proxy_process::conninfo(const std::string& database) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " user=" + require_env("OBS_TEST_PG_USER") +
         " password=" + require_env("OBS_TEST_PG_PASSWORD") + " dbname=" + database;
}

void proxy_process::wait_ready() const {
  REQUIRE(eventually([&] { return http_get(metrics_port_, "/health").status == 200; }));
}

refusal run_until_exit(const std::vector<std::string>& args, double seconds) {
  std::vector<std::string> argv_text{OBS_PROXY_BIN};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  int err[2];
  REQUIRE(pipe(err) == 0);
  const int pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    dup2(err[1], STDERR_FILENO);
    close(err[0]);
    close(err[1]);
    std::vector<char*> argv;
    for (auto& a : argv_text) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(err[1]);
  refusal r;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  for (;;) {
    pollfd p{err[0], POLLIN, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[512];
    const ssize_t n = read(err[0], buf, sizeof buf);
    if (n <= 0) break;  // the child closed stderr: it is exiting
    r.stderr_text.append(buf, static_cast<std::size_t>(n));
  }
  close(err[0]);
  int status = 0;
  if (waitpid(pid, &status, WNOHANG) == 0) {
    // Still running after the deadline: not a refusal.
    bool exited = false;
    for (int i = 0; i < 100 && !exited; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      exited = waitpid(pid, &status, WNOHANG) == pid;
    }
    if (!exited) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return r;
    }
  }
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

http_reply http_get(std::uint16_t port, const std::string& path) {
  http_reply reply;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return reply;
  }
  std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
    close(fd);
    return reply;
  }
  std::string all;
  char buf[16384];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) all.append(buf, static_cast<std::size_t>(n));
  close(fd);
  auto end = all.find("\r\n\r\n");
  if (all.size() < 12 || end == std::string::npos) return reply;
  reply.status = std::atoi(all.c_str() + 9);
  reply.body = all.substr(end + 4);
  return reply;
}

double metric(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 && line[series.size()] == ' ')
      return std::stod(line.substr(series.size() + 1));
  return 0;
}

std::string scrape(const proxy_process& p) {
  auto r = http_get(p.metrics_port(), "/metrics");
  REQUIRE(r.status == 200);
  return r.body;
}

double queries(const proxy_process& p, const char* status) {
  return metric(scrape(p), std::string("pgcache_queries_total{status=\"") + status + "\"}");
}

nlohmann::json query_entry(std::uint16_t metrics_port, const std::string& fingerprint) {
  auto reply = http_get(metrics_port, "/metrics/queries");
  REQUIRE(reply.status == 200);
  for (auto& q : nlohmann::json::parse(reply.body))
    if (q["fingerprint"] == fingerprint) return q;
  return nullptr;
}

bool eventually(const std::function<bool()>& done, double seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

}  // namespace proxy_test
