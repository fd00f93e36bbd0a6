// The service skeleton: endpoint rules, the stop signals and the shutdown
// deadline, the accept loop's policy, and the idle-connection rule.
#include "service/endpoint.hpp"

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <fstream>
#include <future>
#include <string>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <catch2/catch.hpp>

#include "service/accept_loop.hpp"
#include "service/idle_socket.hpp"
#include "service/run_io.hpp"
#include "service/stop_signals.hpp"

using service::endpoint;
using service::parse_endpoint;

namespace {

// Runs `body` in a child process and returns its exit status as waitpid
// gives it: what ends a process must not end the test.
int in_child(const std::function<void()>& body) {
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    body();
    std::_Exit(0);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  return status;
}

}  // namespace

TEST_CASE("endpoints: one set of rules for every service's flags and keys") {
  CHECK(parse_endpoint("--listen", "0.0.0.0:6432") == endpoint{"0.0.0.0", 6432});
  CHECK(parse_endpoint("--listen", ":9090") == endpoint{"127.0.0.1", 9090});
  CHECK(parse_endpoint("--listen", "[::1]:0") == endpoint{"::1", 0});
  CHECK(parse_endpoint("--listen", "db.internal:5432") == endpoint{"db.internal", 5432});
  CHECK(service::to_string(endpoint{"::1", 80}) == "[::1]:80");
  CHECK(service::to_string(endpoint{"127.0.0.1", 80}) == "127.0.0.1:80");
  CHECK_THROWS_WITH(parse_endpoint("--listen", "6432"), "--listen: expected HOST:PORT, got \"6432\"");
  CHECK_THROWS_WITH(parse_endpoint("general.listen", "h:70000"),
                    "general.listen: expected a port from 0 to 65535, got \"h:70000\"");
  for (const char* bad : {"h:", "h:1x", "h:-1", "::1:80", "[::1:80", "[]:80"}) {
    INFO(bad);
    CHECK_THROWS_AS(parse_endpoint("--listen", bad), std::invalid_argument);
  }
}

TEST_CASE("stop signals: SIGTERM reaches wait() and ends no thread") {
  const int status = in_child([] {
    service::stop_signals stop;
    std::thread other([] { std::this_thread::sleep_for(std::chrono::milliseconds(50)); });
    kill(getpid(), SIGTERM);
    const int got = stop.wait();
    other.join();
    std::_Exit(got == SIGTERM ? 0 : 1);
  });
  CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
}

TEST_CASE("shutdown deadline: a stuck shutdown ends with code 70, a finished one is left alone") {
  const int stuck = in_child([] {
    service::shutdown_deadline bound(std::chrono::milliseconds(50), "stuck");
    pause();
  });
  CHECK((WIFEXITED(stuck) && WEXITSTATUS(stuck) == 70));
  const int finished = in_child([] {
    { service::shutdown_deadline bound(std::chrono::seconds(30), "quick"); }
    std::_Exit(0);
  });
  CHECK((WIFEXITED(finished) && WEXITSTATUS(finished) == 0));
}

TEST_CASE("idle sockets: readable means the server is gone") {
  int pair[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0);
  CHECK(service::idle_socket_alive(pair[0]));
  REQUIRE(write(pair[1], "E", 1) == 1);  // e.g. a FATAL error before the close
  CHECK_FALSE(service::idle_socket_alive(pair[0]));
  char byte;
  REQUIRE(read(pair[0], &byte, 1) == 1);
  CHECK(service::idle_socket_alive(pair[0]));
  close(pair[1]);  // EOF
  CHECK_FALSE(service::idle_socket_alive(pair[0]));
  close(pair[0]);
  CHECK_FALSE(service::idle_socket_alive(-1));
}

TEST_CASE("accept loop: out of descriptors it counts, backs off, and accepts again") {
  const int status = in_child([] {
    namespace asio = boost::asio;
    using tcp = asio::ip::tcp;
    asio::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    const auto port = acceptor.local_endpoint().port();
    std::vector<tcp::socket> accepted;
    int errors = 0;
    asio::co_spawn(
        io,
        service::accept_loop(
            acceptor, "service_test", [&](tcp::socket s) { accepted.push_back(std::move(s)); },
            [&](const boost::system::error_code&) { ++errors; }),
        asio::detached);
    // Every descriptor but the few the clients need is taken.
    const rlimit few{64, 64};
    setrlimit(RLIMIT_NOFILE, &few);
    std::vector<int> filler;
    for (int fd; (fd = open("/dev/null", O_RDONLY)) >= 0;) filler.push_back(fd);
    for (int i = 0; i < 4; ++i) close(filler.back()), filler.pop_back();
    std::vector<tcp::socket> clients;
    for (int i = 0; i < 4; ++i) {
      clients.emplace_back(io);
      clients.back().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    }
    io.run_for(std::chrono::milliseconds(200));
    if (errors == 0 || !accepted.empty()) std::_Exit(1);
    for (int fd : filler) close(fd);
    io.run_for(std::chrono::milliseconds(2000));
    std::_Exit(errors > 0 && accepted.size() == clients.size() ? 0 : 2);
  });
  CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
}

namespace {

// A thread's scheduler state from /proc: 'R' running or runnable, 'S' asleep.
char thread_state(pid_t tid) {
  std::ifstream stat("/proc/self/task/" + std::to_string(tid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const auto paren = line.rfind(')');
  return paren == std::string::npos || paren + 2 >= line.size() ? '?' : line[paren + 2];
}

}  // namespace

TEST_CASE("run_io: with or without a busy-poll window, it runs what comes, sleeps when idle, and stops") {
  namespace asio = boost::asio;
  using namespace std::chrono_literals;
  for (const auto window : {0us, 50us, 20'000us}) {
    INFO("window " << window.count() << " us");
    asio::io_context ioc;
    int ran = 0;
    asio::steady_timer timer(ioc, 20ms);
    timer.async_wait([&](boost::system::error_code) { ++ran; });
    asio::post(ioc, [&] { ++ran; });
    service::run_io(ioc, window);  // returns once both have run: out of work
    CHECK(ran == 2);

    ioc.restart();
    auto busy = asio::make_work_guard(ioc);
    std::atomic<pid_t> tid{0};
    asio::post(ioc, [&] { tid = gettid(); });
    std::thread thread([&] { service::run_io(ioc, window); });
    // Posted from another thread: one at once, while the window's polls may
    // still run, and one after an idle spell, which wakes a sleeping thread.
    for (const auto pause : {0ms, 100ms}) {
      std::this_thread::sleep_for(pause);
      std::promise<void> done;
      asio::post(ioc, [&] { done.set_value(); });
      CHECK(done.get_future().wait_for(10s) == std::future_status::ready);
    }
    // Past its window with nothing to do, the thread sleeps in epoll_wait
    // rather than polling on.
    bool slept = false;
    for (int i = 0; i < 500 && !slept; ++i) {
      std::this_thread::sleep_for(10ms);
      slept = thread_state(tid) == 'S';
    }
    CHECK(slept);
    ioc.stop();
    thread.join();
    CHECK(ioc.stopped());
  }
}
