#include "obs/http/observer.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <exception>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "http/client.hpp"

// A server whose accepts fail with EMFILE keeps listening, counts each
// failure and logs once per burst. The server runs in a child process
// (http/accept_errors_target.cpp, exec'd, so nothing of this process's
// threads or sanitizer state is shared) with a low RLIMIT_NOFILE, so only it
// runs out of descriptors.

namespace bh = boost::beast::http;
using namespace std::chrono_literals;

namespace {

// Polls `done` until it holds or `limit` passes.
bool eventually(const std::function<bool()>& done, std::chrono::seconds limit = 30s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

/// The target process: its port, its stderr (a file, so it never blocks on a
/// full pipe), stopped with SIGTERM and reaped when the test ends.
class target {
 public:
  target() {
    char path[] = "/tmp/obs_accept_errors_XXXXXX";
    const int err = ::mkostemp(path, O_CLOEXEC);
    REQUIRE(err >= 0);
    stderr_path_ = path;
    int out[2];
    REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
    pid_ = ::fork();
    if (pid_ == 0) {
      // Only async-signal-safe calls between fork and exec.
      ::dup2(out[1], STDOUT_FILENO);
      ::dup2(err, STDERR_FILENO);
      char* const argv[] = {const_cast<char*>(OBS_ACCEPT_ERRORS_TARGET), nullptr};
      ::execv(argv[0], argv);
      ::_exit(127);
    }
    ::close(out[1]);
    ::close(err);
    // No REQUIRE from here on: a constructor that throws leaves the child
    // to nobody. port() stays 0 when the child failed to start.
    if (pid_ > 0) port_ = read_port(out[0]);
    ::close(out[0]);
  }

  target(const target&) = delete;
  target& operator=(const target&) = delete;

  ~target() {
    if (pid_ > 0) stop();
    ::unlink(stderr_path_.c_str());
  }

  std::uint16_t port() const { return port_; }

  bool alive() { return !reaped(); }

  std::string log() const {
    std::ifstream in(stderr_path_);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }

  /// SIGTERM, then the exit status; SIGKILL if it does not exit in 30 s.
  int stop() {
    if (!reaped()) {
      ::kill(pid_, SIGTERM);
      if (!eventually([&] { return reaped(); })) {
        ::kill(pid_, SIGKILL);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        status_ = status;
      }
    }
    return *status_;
  }

 private:
  bool reaped() {
    if (status_) return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) != pid_) return false;
    status_ = status;
    return true;
  }

  // Reads "port <n>\n" from the child's stdout; 0 on EOF or after 30 s.
  static std::uint16_t read_port(int fd) {
    std::string line;
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[64];
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) return 0;
      line.append(buf, static_cast<std::size_t>(n));
    }
    if (line.rfind("port ", 0) != 0) return 0;
    return static_cast<std::uint16_t>(std::strtoul(line.c_str() + 5, nullptr, 10));
  }

  std::string stderr_path_;
  pid_t pid_ = -1;
  std::optional<int> status_;
  std::uint16_t port_ = 0;
};

// A plain blocking connect, without the test client's io_context and its
// descriptors; -1 when it fails, which the test tolerates.
int open_connection(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);  // bounds connect()
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// GET /metrics until it answers 200; the body, or nothing after 30 s. The
// server may be backing off or still out of descriptors at first.
std::optional<std::string> scrape(std::uint16_t port) {
  std::optional<std::string> body;
  eventually([&] {
    try {
      obs_test::connection c(port, 2);
      auto res = c.get("/metrics");
      if (res.result() == bh::status::ok) body = res.body();
    } catch (const std::exception&) {
      // refused, reset or timed out: try again
    }
    return body.has_value();
  });
  return body;
}

// The value of a series in a Prometheus text body; -1 when absent.
double value_of(const std::string& body, const std::string& series) {
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(series + " ", 0) == 0) return std::strtod(line.c_str() + series.size() + 1, nullptr);
  return -1;
}

std::vector<std::string> lines_of(const std::string& text, const std::string& prefix) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(prefix, 0) == 0) out.push_back(line);
  return out;
}

}  // namespace

TEST_CASE("the listener outlives running out of descriptors, counts it and logs once per burst") {
  const std::string series =
      "obs_http_errors_total{cause=\"" + std::string(to_string(obs::http::error_cause::accept_failed)) + "\"}";
  const std::string failed_line = "obs::http: accept failed: Too many open files; retrying";
  target t;
  {
    INFO("target's stderr:\n" << t.log());
    REQUIRE(t.port() != 0);
  }

  // More connections than the target has descriptors left: the kernel
  // completes them all into the listen queue, the target's accepts fail.
  std::vector<int> flood;
  for (int i = 0; i < 30; ++i)
    if (const int fd = open_connection(t.port()); fd >= 0) flood.push_back(fd);
  const bool failed = eventually([&] { return t.log().find("accept failed") != std::string::npos || !t.alive(); });
  for (int fd : flood) ::close(fd);
  {
    INFO("target's stderr:\n" << t.log());
    CHECK(failed);
    REQUIRE(t.alive());
  }

  // Once the descriptors come back the queued connections are accepted
  // (their peers gone), then a scrape is answered.
  const std::optional<std::string> first = scrape(t.port());
  REQUIRE(first);
  CHECK(value_of(*first, series) > 0);

  // Still serving, and the count only grows.
  REQUIRE(t.alive());
  const std::optional<std::string> second = scrape(t.port());
  REQUIRE(second);
  const double count = value_of(*second, series);
  CHECK(count >= value_of(*first, series));

  CHECK(t.stop() == 0);  // exit status 0: stopped cleanly, no sanitizer report
  const std::string log = t.log();
  INFO("target's stderr:\n" << log);
  // One line when a burst starts, one when it ends, never one per failure:
  // the lines alternate, and the bursts' counts add up to the metric (every
  // burst ended before the last scrape's connection was accepted).
  const std::vector<std::string> lines = lines_of(log, "obs::http:");
  REQUIRE(!lines.empty());
  double accounted = 0;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (i % 2 == 0) {
      CHECK(lines[i] == failed_line);
      continue;
    }
    const std::string again = "obs::http: accepting again after ";
    REQUIRE(lines[i].rfind(again, 0) == 0);
    const unsigned long n = std::strtoul(lines[i].c_str() + again.size(), nullptr, 10);
    CHECK(n > 0);
    CHECK(lines[i] == again + std::to_string(n) + " failed accepts");
    accounted += static_cast<double>(n);
  }
  CHECK(lines.size() % 2 == 0);
  CHECK(accounted == count);
}
