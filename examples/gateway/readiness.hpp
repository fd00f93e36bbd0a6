// gateway::readiness: whether the database and the object store answer, for
// /readyz and /health on the management port.
//
// Each upstream has a checker of its own, so the two run side by side, and
// every check has its own deadline: SELECT 1 on a connection kept for the
// checks (a busy pool does not make the gateway unready), HEAD on the bucket.
// A check comes `check_interval` after the last one ended and fails after
// `check_timeout`, so an upstream that hangs shows within the two. The probes read the flags
// only: they answer at once, whatever the upstreams do.
//
// Thread safety: start() and stop() on the executor given (the gateway's I/O
// thread); the flags from any thread.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <string>

#include "pg_pool.hpp"
#include "s3_client.hpp"
#include "upstream_errors.hpp"

namespace gateway {

/// See the header comment.
class readiness {
 public:
  static constexpr std::chrono::seconds check_interval{1};
  static constexpr std::chrono::seconds check_timeout{1};

  /// Checks the database at `conninfo` and the bucket of `s3`; failed checks
  /// go to `errors`. Both count as answering until a check says otherwise.
  readiness(boost::asio::any_io_executor ex, std::string conninfo, s3_client& s3, upstream_errors& errors);

  /// Starts both checkers.
  void start();
  /// Ends them: a database check in progress fails at once, an object store
  /// check within check_timeout (or when the s3_client stops).
  void stop();

  /// The outcome of the last check. Reads a flag: never waits.
  bool database_ready() const noexcept { return database_ok_.load(std::memory_order_relaxed); }
  bool object_store_ready() const noexcept { return object_store_ok_.load(std::memory_order_relaxed); }

 private:
  boost::asio::awaitable<void> check_database();
  boost::asio::awaitable<void> check_object_store();

  boost::asio::any_io_executor executor_;
  pg_pool pool_;  // one connection, the checks' own
  s3_client& s3_;
  upstream_errors& errors_;
  boost::asio::steady_timer database_timer_, object_store_timer_;
  // Ordering: relaxed; lone flags, which order nothing.
  std::atomic<bool> database_ok_{true}, object_store_ok_{true};
  bool stopping_ = false;
};

}  // namespace gateway
