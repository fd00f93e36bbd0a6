// redis_gateway::redis_connection: one connection to one Redis instance on
// hiredis's asynchronous API (redisAsyncContext), driven by an Asio
// io_context: hiredis asks for read and write readiness through its event
// hooks, and each hook arms one async_wait on the socket, but for a ready
// connection's writes: those are tried once the handlers ready to run have
// run, as the socket nearly always has room, so that the commands all of
// them send leave in one write; only what the socket cannot take waits for
// write readiness.
//
// open() connects without blocking, then sends AUTH (when the instance has a
// password), CLIENT SETNAME (so CLIENT LIST tells the gateway's connections
// apart) and PING; `on_open` learns, posted, whether PONG came back in time.
// Once the connection is ready, send() writes a command straight away, so the
// commands of many requests leave in one write and their replies come back
// in one read. Every command carries a deadline: when the oldest one passes
// without its reply, the connection closes and fails every command it still
// waits for, since Redis answers in order and nothing behind the oldest
// would be answered sooner.
//
//   auto c = redis_connection::open(ioc, inst, {2s, "redis_gateway-pipeline"},
//                                   [](const std::string& error) { /* empty: ready */ });
//   c->send(std::move(command));  // once ready
//
// Thread safety: none. Every member, and every callback, runs on the
// io_context's one thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "redis_instance.hpp"
#include "redis_reply.hpp"

struct redisAsyncContext;

namespace redis_gateway {

/// A command on its way to Redis, and what to do with its reply.
struct redis_command {
  std::vector<std::string> argv;  ///< the command and its arguments
  reply_encoding encoding = reply_encoding::text;
  /// The `command` label it is counted under in redis_commands_total and
  /// its family, a view of static storage (record_redis_command finds its
  /// series by the address); empty for one not counted (probes' PINGs).
  std::string_view counted_as;
  std::chrono::steady_clock::time_point start;     ///< when it arrived
  std::chrono::steady_clock::time_point deadline;  ///< when it fails without a reply
  boost::asio::any_completion_handler<void(redis_result)> done;
};
using redis_command_ptr = std::unique_ptr<redis_command>;

/// Completes `cmd` with `r`, counting it when it is counted. The completion
/// is posted to `ioc`, so whoever waits resumes outside the caller.
void complete(boost::asio::io_context& ioc, redis_command_ptr cmd, redis_result r);

/// See the header comment.
class redis_connection : public std::enable_shared_from_this<redis_connection> {
 public:
  /// How it opens.
  struct options {
    std::chrono::milliseconds timeout{2000};      ///< for the whole open sequence
    const char* client_name = "redis_gateway";    ///< CLIENT SETNAME
  };
  /// Gets an empty string once the connection is ready, else why it is not.
  using open_handler = std::function<void(const std::string& error)>;

  /// Starts opening a connection to `inst`. `on_open` runs once, unless
  /// close() comes first.
  static std::shared_ptr<redis_connection> open(boost::asio::io_context& ioc, redis_instance_ptr inst,
                                                options opts, open_handler on_open);
  ~redis_connection();
  redis_connection(const redis_connection&) = delete;
  redis_connection& operator=(const redis_connection&) = delete;

  /// Whether it takes commands.
  bool ready() const noexcept { return state_ == state::ready; }

  /// Whether the connection waits for no reply but the server closed it
  /// meanwhile (a restart, a `timeout` in redis.conf, CLIENT KILL): the
  /// shared liveness rule, service::idle_socket_alive, which the event loop
  /// may not have applied yet. A command must not be sent on such a
  /// connection, since it could not be answered.
  bool died_while_idle() const;

  /// Sends a command on a ready connection; it completes with its reply,
  /// or, when the connection closes first, with outcome::unavailable.
  void send(redis_command_ptr cmd);

  /// Closes it (if open): the commands it waits for complete with
  /// outcome::unavailable and `reason`, and `on_open` is not called.
  void close(const std::string& reason);

  /// Ready connections over the whole process.
  static std::size_t open_connections() noexcept;

 private:
  enum class state { opening, ready, closed };
  struct hooks;
  redis_connection(boost::asio::io_context& ioc, redis_instance_ptr inst, options opts, open_handler on_open);

  void send_step(const char* const* argv, int argc, void (*fn)(redisAsyncContext*, void*, void*));
  void answered() noexcept;
  void watch();
  void expire();
  void fail_open(const std::string& why);
  void report_open(const std::string& error);
  void free_context(const std::string& reason);
  std::string lost() const;
  void arm_read();
  void arm_write();
  void post_write();
  void write();

  boost::asio::io_context& ioc_;
  boost::asio::posix::stream_descriptor socket_;  // hiredis owns the descriptor: released, never closed, here
  boost::asio::steady_timer deadline_timer_;
  redisAsyncContext* ac_ = nullptr;  // null once hiredis has freed it
  redis_instance_ptr inst_;
  options opts_;
  open_handler on_open_;
  state state_ = state::opening;
  bool counted_ = false;                          // in open_connections() and redis_connections_active
  bool reading_ = false, writing_ = false;        // what hiredis wants
  bool read_armed_ = false, write_armed_ = false;  // what is waiting
  bool write_posted_ = false;                     // post_write's
  bool in_write_ = false;                         // write() is in redisAsyncHandleWrite
  bool timer_armed_ = false;
  // The deadlines of the commands sent and not yet answered, oldest first.
  std::deque<std::chrono::steady_clock::time_point> deadlines_;
  std::string close_reason_;  // why waiting commands fail, when closed on purpose
};

}  // namespace redis_gateway
