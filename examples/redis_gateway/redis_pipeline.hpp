// redis_gateway::redis_pipeline: one I/O thread's pipelined Redis
// connections, one per instance — hiredis's async API (redisAsyncContext)
// driven by the thread's Asio io_context, so the requests of every HTTP
// connection on the thread share one Redis connection, their commands going
// out and their replies coming back in batches, and no request blocks the
// thread.
//
// A connection opens when the first command for its instance finds none: one
// connect, AUTH when the instance has a password, CLIENT SETNAME
// redis_gateway-pipeline (so CLIENT LIST tells it apart), then PING; it
// takes commands once PONG arrives. Until then, and after it breaks, ready() says
// no and the caller runs the command on redis_pool from a worker thread, so
// on-demand connecting keeps one behaviour: redis_pool's retry loop
// (MAX_RETRY_ATTEMPTS connects RETRY_DELAY_MS apart, PING-verified) and its
// error messages. A failed open is tried again no sooner than RETRY_DELAY_MS
// later. A connection closes when its instance's address changes or the
// instance goes (redis_pool's generation), and when commands have waited a
// whole timeout without any reply (its pending commands then fail).
//
//   redis_pipeline pipes(ioc, pool, {.timeout = 2s, .reopen_delay = 1s});
//   if (pipes.ready("cache"))
//     redis_result r = co_await pipes.async_execute("cache", {"GET", "k"}, asio::use_awaitable);
//
// Thread safety: none. Every member, and every completion, runs on the
// io_context's single thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/io_context.hpp>

#include "redis_pool.hpp"

namespace redis_gateway {

/// How redis_pipeline connects.
struct redis_pipeline_options {
  std::chrono::milliseconds timeout{2000};       ///< connect, and replies to pending commands
  std::chrono::milliseconds reopen_delay{1000};  ///< after a failed open, before the next
};

/// See the header comment.
class redis_pipeline {
 public:
  /// Keeps `ioc` and `pool` (for addresses, generations and the connection
  /// count) by reference.
  redis_pipeline(boost::asio::io_context& ioc, redis_pool& pool, redis_pipeline_options opts);
  /// Closes every connection; their pending commands fail.
  ~redis_pipeline();
  redis_pipeline(const redis_pipeline&) = delete;
  redis_pipeline& operator=(const redis_pipeline&) = delete;

  /// The name its connections give themselves with CLIENT SETNAME.
  static const char* const pipeline_client_name;

  /// Whether `instance` has a connection that takes commands now. When it has
  /// none (or a stale one), starts opening one and says no.
  bool ready(const std::string& instance);

  /// Sends `argv` (`argv[0]` is the command) on `instance`'s connection,
  /// which ready() has just confirmed, and completes with its result,
  /// counted like redis_pool::execute's. A connection lost before the reply
  /// completes with outcome::unavailable.
  template <typename CompletionToken>
  auto async_execute(const std::string& instance, std::vector<std::string> argv, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(redis_result)>(
        [this](auto handler, const std::string& inst, std::vector<std::string> args) {
          start(inst, std::move(args), std::move(handler));
        },
        token, instance, std::move(argv));
  }

 private:
  struct connection;
  using handler = boost::asio::any_completion_handler<void(redis_result)>;
  void start(const std::string& instance, std::vector<std::string> argv, handler done);
  void open(const std::string& instance);

  boost::asio::io_context& ioc_;
  redis_pool& pool_;
  redis_pipeline_options opts_;
  std::map<std::string, std::shared_ptr<connection>, std::less<>> connections_;
  std::map<std::string, std::chrono::steady_clock::time_point, std::less<>> failed_;  // last failed open
};

}  // namespace redis_gateway
