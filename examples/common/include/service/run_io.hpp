// service::run_io: the loop of a thread that runs an io_context, with an
// optional busy-poll window.
//
// A thread that runs out of handlers sleeps in epoll_wait, and the next
// request's bytes wake it. Where a service shares a few cores with its
// clients and upstreams, each waiting on another, those sleeps leave cores
// idle while work is in flight: on 2 cores, the Redis gateway with two I/O
// threads, wrk and Redis left 10 to 19 % of the machine idle at full load.
// Within the window, the thread polls instead (a non-blocking epoll_wait)
// and yields its core between polls to any thread that can run; it sleeps
// once the window passes with nothing to do. The cost is CPU time: up to
// one window per idle spell, which a core nothing else wants would have
// spent idle.
//
//   std::thread t([&] { service::run_io(ioc, std::chrono::microseconds(20)); });
#pragma once

#include <chrono>
#include <thread>

#include <boost/asio/io_context.hpp>

namespace service {

/// Runs `ioc` on this thread until it stops or runs out of work, as
/// ioc.run() does when `busy_poll` is zero; otherwise polls for up to
/// `busy_poll` before each sleep (see the header comment). Inline: compiled
/// out of line, away from the rest of the service's Asio code, g++ laid out
/// Asio's run loop with 150 more instructions per Redis gateway request.
inline void run_io(boost::asio::io_context& ioc, std::chrono::microseconds busy_poll) {
  if (busy_poll <= std::chrono::microseconds::zero()) {
    ioc.run();
    return;
  }
  using clock = std::chrono::steady_clock;
  for (;;) {
    if (ioc.poll() != 0) continue;
    if (ioc.stopped()) return;
    const auto until = clock::now() + busy_poll;
    bool ran = false;
    while (!ran && clock::now() < until) {
      std::this_thread::yield();
      ran = ioc.poll() != 0;
    }
    if (!ran && ioc.run_one() == 0) return;
  }
}

}  // namespace service
