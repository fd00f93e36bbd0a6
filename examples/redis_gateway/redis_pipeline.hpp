// redis_gateway::redis_pipeline: one I/O thread's Redis connections, one per
// instance, and the way every command reaches Redis.
//
// A command goes straight out on its instance's connection when that is
// ready, pipelined with whatever else the thread's requests send. Otherwise
// it waits here, on no thread, while the connection opens with the seed's
// retry loop: up to MAX_RETRY_ATTEMPTS attempts RETRY_DELAY_MS apart, each a
// redis_connection open (connect, AUTH, CLIENT SETNAME, PING) bounded by the
// timeout, every failure logged. The commands that waited go out once it is
// ready, or fail together when the last attempt fails; the next command
// starts a new round. From its arrival to its reply, the wait for a
// connection included, a command has `timeout`, then it fails with
// outcome::unavailable; a round outlasts the commands that started it.
//
// A connection that died while idle (the server restarted, or closed it) is
// never used: the event loop closes most when their EOF arrives, and one it
// has not read yet is caught before the next command would go out on it
// (redis_connection::died_while_idle). It is replaced, and the command waits
// for the new one; it had reached no server, so nothing runs twice and the
// client sees no error.
//
// A connection serves the instance it was opened for, by identity
// (redis_instance::id), never by name: a command for another instance of the
// same name closes it, and forget() closes it when its instance is deleted.
//
//   redis_pipeline pipes(ioc, {.timeout = 2s, .attempts = 3, .retry_delay = 1s});
//   redis_result r = co_await pipes.async_execute(inst, {"GET", "k"}, reply_encoding::text, "GET", asio::use_awaitable);
//
// Thread safety: none. Every member, and every completion, runs on the
// io_context's single thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/async_result.hpp>
#include <boost/asio/io_context.hpp>

#include "redis_connection.hpp"

namespace redis_gateway {

/// How a redis_pipeline connects and how long commands may take.
struct redis_pipeline_options {
  /// A command's time from arrival to reply, the wait for a connection
  /// included; also the bound on each connect attempt.
  std::chrono::milliseconds timeout{2000};
  std::uint32_t attempts = 3;                 ///< connect attempts per round (MAX_RETRY_ATTEMPTS)
  std::chrono::milliseconds retry_delay{1000};  ///< between them (RETRY_DELAY_MS)
  const char* client_name = "redis_gateway-pipeline";  ///< CLIENT SETNAME of its connections
};

/// See the header comment.
class redis_pipeline {
 public:
  /// Keeps `ioc` by reference.
  redis_pipeline(boost::asio::io_context& ioc, redis_pipeline_options opts);
  /// Closes every connection; the commands waiting fail.
  ~redis_pipeline();
  redis_pipeline(const redis_pipeline&) = delete;
  redis_pipeline& operator=(const redis_pipeline&) = delete;

  /// Runs `argv` (`argv[0]` is the command) on `inst` and completes with its
  /// result, its strings encoded as `encoding` asks; counted under the
  /// `command` label `counted_as` (see redis_command), or not if empty.
  template <typename CompletionToken>
  auto async_execute(redis_instance_ptr inst, std::vector<std::string> argv, reply_encoding encoding,
                     std::string_view counted_as, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(redis_result)>(
        [this](auto handler, redis_instance_ptr i, std::vector<std::string> args, reply_encoding e,
               std::string_view label) {
          const auto now = std::chrono::steady_clock::now();
          // Constructed, not assigned: Boost 1.81's any_completion_handler
          // move assignment recurses until the stack overflows.
          start(std::move(i), redis_command_ptr(new redis_command{std::move(args), e, label, now,
                                                                  now + opts_.timeout, std::move(handler)}));
        },
        token, std::move(inst), std::move(argv), encoding, counted_as);
  }

  /// `inst` was deleted: its connection closes and its waiting commands fail.
  void forget(const redis_instance& inst);

  /// Fails every command waiting or in flight with `reason`, closes every
  /// connection, and fails every later command at once: the shutdown's last
  /// step.
  void close_all(const std::string& reason);

 private:
  struct slot;
  void start(redis_instance_ptr inst, redis_command_ptr cmd);
  void attempt(slot& s);
  void opened(const std::string& name, std::int64_t id, std::uint64_t round, std::uint32_t n,
              const std::string& error);
  void wait(slot& s, redis_command_ptr cmd);
  void arm_expiry(slot& s);
  void disarm_expiry(slot& s);
  void fail_waiting(slot& s, const std::string& why);
  void retire(slot& s, const std::string& reason);
  slot* find(const std::string& name, std::int64_t id);

  boost::asio::io_context& ioc_;
  redis_pipeline_options opts_;
  std::map<std::string, std::unique_ptr<slot>, std::less<>> slots_;  // by instance name
  bool closed_ = false;
  std::string closed_reason_;
};

}  // namespace redis_gateway
