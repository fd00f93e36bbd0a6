#include "redis_connection.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <atomic>
#include <cstdio>
#include <string_view>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/container/small_vector.hpp>
#include <service/idle_socket.hpp>

#include "metrics.hpp"
#include "recording.hpp"

namespace redis_gateway {

namespace asio = boost::asio;
using clock = std::chrono::steady_clock;

namespace {

// Ordering: relaxed; a count read on its own, for /health's message.
std::atomic<std::size_t> open_count{0};

}  // namespace

void complete(asio::io_context& ioc, redis_command_ptr cmd, redis_result r) {
  if constexpr (metrics_enabled) {
    if (!cmd->counted_as.empty())
      record_redis_command(cmd->counted_as, r.result != redis_result::outcome::ok, clock::now() - cmd->start);
  }
  asio::post(ioc, [done = std::move(cmd->done), r = std::move(r)]() mutable { std::move(done)(std::move(r)); });
}

// hiredis's callbacks: the connection is the context's `data`.
struct redis_connection::hooks {
  static redis_connection& of(void* data) { return *static_cast<redis_connection*>(data); }

  static void on_reply(redisAsyncContext* ctx, void* reply, void* privdata) {
    redis_command_ptr cmd(static_cast<redis_command*>(privdata));
    auto& c = of(ctx->data);
    c.answered();
    redis_result out = reply ? from_reply(*static_cast<const redisReply*>(reply), cmd->encoding)
                             : redis_result{redis_result::outcome::unavailable, nullptr, c.lost()};
    complete(c.ioc_, std::move(cmd), std::move(out));
  }

  // The open sequence: AUTH must not fail, SETNAME only labels the
  // connection, and PING must say PONG.
  static void on_auth(redisAsyncContext* ctx, void* reply, void*) {
    auto& c = of(ctx->data);
    c.answered();
    const auto* r = static_cast<const redisReply*>(reply);
    if (r && r->type != REDIS_REPLY_ERROR) return;
    c.fail_open(r ? "AUTH: " + std::string(r->str, r->len) : c.lost());
  }
  static void on_setname(redisAsyncContext* ctx, void*, void*) { of(ctx->data).answered(); }
  static void on_ping(redisAsyncContext* ctx, void* reply, void*) {
    auto& c = of(ctx->data);
    c.answered();
    if (c.state_ != state::opening) return;  // AUTH failed before
    const auto* r = static_cast<const redisReply*>(reply);
    if (r && r->type == REDIS_REPLY_STATUS && std::string_view(r->str, r->len) == "PONG") {
      c.state_ = state::ready;
      c.counted_ = true;
      open_count.fetch_add(1, std::memory_order_relaxed);  // Ordering: see open_count
      metrics.redis_connections_active.increment();
      c.report_open({});
      return;
    }
    c.fail_open(r ? "PING: unexpected reply" : c.lost());
  }

  static void add_read(void* data) {
    auto& c = of(data);
    c.reading_ = true;
    c.arm_read();
  }
  static void del_read(void* data) { of(data).reading_ = false; }
  static void add_write(void* data) {
    auto& c = of(data);
    c.writing_ = true;
    if (c.in_write_) return;  // what it could not write waits for readiness, after it
    if (c.state_ == state::ready)
      c.post_write();
    else
      c.arm_write();  // hiredis learns that the connect is done from the first write readiness
  }
  static void del_write(void* data) { of(data).writing_ = false; }

  // hiredis frees the context (after an error, or from redisAsyncFree), and
  // its descriptor closes right after: Asio lets go of it first.
  static void cleanup(void* data) {
    auto& c = of(data);
    if (c.state_ == state::ready && c.close_reason_.empty())
      std::fprintf(stderr, "redis_gateway: redis instance %s (%s:%u): connection lost: %s\n", c.inst_->name.c_str(),
                   c.inst_->host.c_str(), c.inst_->port, c.ac_->c.err ? c.ac_->c.errstr : "closed");
    c.reading_ = c.writing_ = false;
    c.ac_ = nullptr;
    if (c.socket_.is_open()) c.socket_.release();  // cancels the armed waits
    if (c.counted_) {
      c.counted_ = false;
      open_count.fetch_sub(1, std::memory_order_relaxed);  // Ordering: see open_count
      metrics.redis_connections_active.decrement();
    }
    const bool opening = c.state_ == state::opening;
    c.state_ = state::closed;
    c.deadline_timer_.cancel();
    if (opening) c.report_open(c.close_reason_.empty() ? "connection closed" : c.close_reason_);
  }
};

redis_connection::redis_connection(asio::io_context& ioc, redis_instance_ptr inst, options opts,
                                   open_handler on_open)
    : ioc_(ioc), socket_(ioc), deadline_timer_(ioc), inst_(std::move(inst)), opts_(opts),
      on_open_(std::move(on_open)) {}

redis_connection::~redis_connection() {
  on_open_ = nullptr;
  free_context("closed");
}

std::shared_ptr<redis_connection> redis_connection::open(asio::io_context& ioc, redis_instance_ptr inst,
                                                         options opts, open_handler on_open) {
  std::shared_ptr<redis_connection> c(new redis_connection(ioc, std::move(inst), opts, std::move(on_open)));
  redisAsyncContext* ac = redisAsyncConnect(c->inst_->host.c_str(), c->inst_->port);
  if (!ac || ac->err) {
    const std::string why = ac ? ac->errstr : "cannot allocate a connection";
    if (ac) redisAsyncFree(ac);
    c->state_ = state::closed;
    c->report_open(why);
    return c;
  }
  c->ac_ = ac;
  ac->data = c.get();
  ac->ev.data = c.get();
  ac->ev.addRead = &hooks::add_read;
  ac->ev.delRead = &hooks::del_read;
  ac->ev.addWrite = &hooks::add_write;
  ac->ev.delWrite = &hooks::del_write;
  ac->ev.cleanup = &hooks::cleanup;
  c->socket_.assign(ac->c.fd);
  // The steps' deadlines also bound the connect, whose completion hiredis
  // learns from the first write readiness.
  if (!c->inst_->password.empty()) {
    const char* auth[] = {"AUTH", c->inst_->password.c_str()};
    c->send_step(auth, 2, &hooks::on_auth);
  }
  const char* setname[] = {"CLIENT", "SETNAME", c->opts_.client_name};
  c->send_step(setname, 3, &hooks::on_setname);
  const char* ping[] = {"PING"};
  c->send_step(ping, 1, &hooks::on_ping);
  return c;
}

void redis_connection::send_step(const char* const* argv, int argc, void (*fn)(redisAsyncContext*, void*, void*)) {
  std::vector<std::size_t> lens;
  for (int i = 0; i < argc; ++i) lens.push_back(std::string_view(argv[i]).size());
  if (redisAsyncCommandArgv(ac_, fn, nullptr, argc, const_cast<const char**>(argv), lens.data()) != REDIS_OK) return;
  deadlines_.push_back(clock::now() + opts_.timeout);
  watch();
}

void redis_connection::send(redis_command_ptr cmd) {
  // On the stack for the commands the path routes send: their arguments
  // cost no allocation.
  boost::container::small_vector<const char*, 4> args;
  boost::container::small_vector<std::size_t, 4> lens;
  for (const auto& a : cmd->argv) args.push_back(a.data()), lens.push_back(a.size());
  const auto deadline = cmd->deadline;
  if (!ac_ || state_ != state::ready ||
      redisAsyncCommandArgv(ac_, &hooks::on_reply, cmd.get(), static_cast<int>(args.size()), args.data(),
                            lens.data()) != REDIS_OK) {
    complete(ioc_, std::move(cmd), {redis_result::outcome::unavailable, nullptr, lost()});
    return;
  }
  cmd.release();  // hooks::on_reply owns it now
  deadlines_.push_back(deadline);
  watch();
}

bool redis_connection::died_while_idle() const {
  return ac_ && deadlines_.empty() && !service::idle_socket_alive(ac_->c.fd);
}

void redis_connection::close(const std::string& reason) {
  on_open_ = nullptr;
  free_context(reason);
}

std::size_t redis_connection::open_connections() noexcept {
  return open_count.load(std::memory_order_relaxed);  // Ordering: see open_count
}

void redis_connection::answered() noexcept {
  if (!deadlines_.empty()) deadlines_.pop_front();
}

// Keeps one timer on the oldest deadline while any command waits.
void redis_connection::watch() {
  if (timer_armed_ || deadlines_.empty() || !ac_) return;
  timer_armed_ = true;
  deadline_timer_.expires_at(deadlines_.front());
  deadline_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    self->timer_armed_ = false;
    if (ec || !self->ac_ || self->deadlines_.empty()) return;
    if (self->deadlines_.front() > clock::now()) return self->watch();  // the oldest was answered meanwhile
    self->expire();
  });
}

void redis_connection::expire() {
  const std::string why = "no reply within " + std::to_string(opts_.timeout.count()) + " ms";
  if (state_ == state::opening) return fail_open(why);
  std::fprintf(stderr, "redis_gateway: redis instance %s (%s:%u): %s; closing the connection\n", inst_->name.c_str(),
               inst_->host.c_str(), inst_->port, why.c_str());
  free_context(why);
}

void redis_connection::fail_open(const std::string& why) {
  if (state_ != state::opening) return;
  state_ = state::closed;
  report_open(why);
  free_context(why);
}

void redis_connection::report_open(const std::string& error) {
  if (!on_open_) return;
  asio::post(ioc_, [done = std::move(on_open_), error] { done(error); });
  on_open_ = nullptr;
}

// Inside a hiredis callback redisAsyncFree only marks the context, and
// hiredis frees it once the callback returns; elsewhere it frees at once.
// Either way every waiting command's callback runs with no reply, then
// hooks::cleanup.
void redis_connection::free_context(const std::string& reason) {
  if (!ac_) return;
  if (close_reason_.empty()) close_reason_ = reason;
  redisAsyncFree(ac_);
}

std::string redis_connection::lost() const {
  if (!close_reason_.empty()) return close_reason_;
  if (ac_ && ac_->c.err) return ac_->c.errstr;
  return "connection closed";
}

void redis_connection::arm_read() {
  if (read_armed_ || !ac_) return;
  read_armed_ = true;
  socket_.async_wait(asio::posix::descriptor_base::wait_read, [self = shared_from_this()](boost::system::error_code ec) {
    self->read_armed_ = false;
    if (ec || !self->ac_ || !self->reading_) return;
    redisAsyncHandleRead(self->ac_);
    if (self->ac_ && self->reading_) self->arm_read();
  });
}

// A wait for write readiness would cost an epoll_ctl, since Asio re-arms the
// descriptor for every wait, and a trip through epoll_wait.
void redis_connection::post_write() {
  if (write_posted_ || write_armed_ || !ac_) return;
  write_posted_ = true;
  asio::post(ioc_, [self = shared_from_this()] {
    self->write_posted_ = false;
    if (!self->ac_ || !self->writing_) return;
    self->write();
  });
}

// hiredis writes what it can; what the socket cannot take waits for write
// readiness.
void redis_connection::write() {
  in_write_ = true;
  redisAsyncHandleWrite(ac_);
  in_write_ = false;
  if (ac_ && writing_) arm_write();
}

void redis_connection::arm_write() {
  if (write_armed_ || !ac_) return;
  write_armed_ = true;
  socket_.async_wait(asio::posix::descriptor_base::wait_write, [self = shared_from_this()](boost::system::error_code ec) {
    self->write_armed_ = false;
    if (ec || !self->ac_ || !self->writing_) return;
    self->write();
  });
}

}  // namespace redis_gateway
