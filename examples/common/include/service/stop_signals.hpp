// How a service learns it must stop, and the bound on how long stopping may
// take.
//
//     int main() {
//       service::stop_signals stop;          // first, before any thread starts
//       ... start listeners, pools, the management port ...
//       stop.wait();                         // SIGINT or SIGTERM
//       service::shutdown_deadline bound(cfg.shutdown_timeout, "obs_proxy");
//       ... stop accepting, drain, answer what waits with an error ...
//     }                                      // exit 0
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include <signal.h>

namespace service {

/// SIGINT and SIGTERM, delivered to wait() alone. Construct it in main()
/// before any thread starts: threads inherit the blocked mask, so no other
/// thread is interrupted by the signals. It also ignores SIGPIPE, so that a
/// peer that vanished mid-write is an error code on that write, not the end
/// of the process.
class stop_signals {
 public:
  stop_signals();
  stop_signals(const stop_signals&) = delete;
  stop_signals& operator=(const stop_signals&) = delete;

  /// Blocks until SIGINT or SIGTERM arrives; returns which.
  int wait();

 private:
  sigset_t set_;
};

/// Ends the process if stopping takes longer than `limit`: the watchdog of a
/// graceful shutdown, for the case the shutdown itself is stuck (a thread
/// blocked on an upstream that hung). A service whose drain is bounded by the
/// same limit never meets it; when it fires it says so on stderr and exits
/// with code 70 (EX_SOFTWARE), so that the hang shows. Destroying it (the
/// shutdown finished) disarms it.
class shutdown_deadline {
 public:
  shutdown_deadline(std::chrono::milliseconds limit, std::string service_name);
  ~shutdown_deadline();
  shutdown_deadline(const shutdown_deadline&) = delete;
  shutdown_deadline& operator=(const shutdown_deadline&) = delete;

 private:
  std::mutex mutex_;
  std::condition_variable done_;
  bool finished_ = false;
  std::thread watchdog_;
};

}  // namespace service
