#include "redis_pipeline.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <cstdio>
#include <string_view>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "metrics.hpp"
#include "redis_reply.hpp"

namespace redis_gateway {

namespace asio = boost::asio;
using clock = std::chrono::steady_clock;

namespace {

// A command on its way: what completes it, and what its metrics need.
struct pending_command {
  asio::any_completion_handler<void(redis_result)> done;
  std::string command;
  clock::time_point start;
  asio::io_context* ioc;
};

}  // namespace

// One redisAsyncContext and the Asio objects that drive it. hiredis asks for
// read and write readiness through the ev hooks below; each arms one
// async_wait on the socket, and its completion hands the event to hiredis.
struct redis_pipeline::connection : std::enable_shared_from_this<connection> {
  enum class state { opening, ready, closed };

  connection(asio::io_context& ioc, redis_pool& p, std::string n, std::uint64_t gen)
      : socket(ioc), stall_timer(ioc), pool(p), name(std::move(n)), generation(gen) {}
  ~connection() { close("closed"); }
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  asio::posix::stream_descriptor socket;  // hiredis owns the descriptor: released, never closed, here
  asio::steady_timer stall_timer;
  redisAsyncContext* ac = nullptr;  // null once hiredis has freed it
  redis_pool& pool;                 // counts the connection while it is ready
  std::string name;
  std::uint64_t generation;
  state st = state::opening;
  bool reading = false, writing = false;        // what hiredis wants
  bool read_armed = false, write_armed = false;  // what is waiting
  bool stall_armed = false;
  std::size_t pending = 0;     // commands sent whose reply has not come
  std::uint64_t replies = 0;   // replies so far, for the stall check
  std::string close_reason;    // why pending commands fail, when closed on purpose
  clock::time_point closed_at{};

  static connection& of(void* data) { return *static_cast<connection*>(data); }

  static void on_reply(redisAsyncContext* ctx, void* reply, void* privdata) {
    std::unique_ptr<pending_command> cmd(static_cast<pending_command*>(privdata));
    auto& c = of(ctx->data);
    --c.pending;
    ++c.replies;
    redis_result out = reply ? from_reply(*static_cast<const redisReply*>(reply))
                             : redis_result{redis_result::outcome::unavailable, nullptr, c.lost(ctx)};
    record_command(cmd->command, out, clock::now() - cmd->start);
    // Posted, not called: the request resumes outside hiredis's callback loop.
    asio::post(*cmd->ioc, [done = std::move(cmd->done), out = std::move(out)]() mutable { std::move(done)(std::move(out)); });
  }

  // The replies of the open sequence: AUTH (when there is a password) must
  // say OK and PING must say PONG, else the connection closes unused.
  static void on_auth(redisAsyncContext* ctx, void* reply, void*) {
    auto& c = of(ctx->data);
    --c.pending;
    ++c.replies;
    const auto* r = static_cast<const redisReply*>(reply);
    if (r && r->type != REDIS_REPLY_ERROR) return;
    c.give_up(r ? "AUTH: " + std::string(r->str, r->len) : c.lost(ctx));
  }
  // The name only labels the connection in CLIENT LIST; its reply changes nothing.
  static void on_setname(redisAsyncContext* ctx, void*, void*) {
    auto& c = of(ctx->data);
    --c.pending;
    ++c.replies;
  }
  static void on_ping(redisAsyncContext* ctx, void* reply, void*) {
    auto& c = of(ctx->data);
    --c.pending;
    ++c.replies;
    const auto* r = static_cast<const redisReply*>(reply);
    if (c.st != state::opening) return;  // AUTH failed before
    if (r && r->type == REDIS_REPLY_STATUS && std::string_view(r->str, r->len) == "PONG") {
      c.st = state::ready;
      c.pool.count_connection(+1);
      return;
    }
    c.give_up(r ? "PING: unexpected reply" : c.lost(ctx));
  }
  // Inside a callback: redisAsyncFree frees once hiredis's loop returns.
  void give_up(const std::string& why) {
    if (st != state::opening) return;
    std::fprintf(stderr, "redis_gateway: redis instance %s: pipelined connection failed: %s\n", name.c_str(),
                 why.c_str());
    close_reason = why;
    st = state::closed;
    redisAsyncFree(ac);
  }

  static void add_read(void* data) {
    auto& c = of(data);
    c.reading = true;
    c.arm_read();
  }
  static void del_read(void* data) { of(data).reading = false; }
  static void add_write(void* data) {
    auto& c = of(data);
    c.writing = true;
    c.arm_write();
  }
  static void del_write(void* data) { of(data).writing = false; }
  // hiredis frees the context (after an error, or from redisAsyncFree): its
  // descriptor closes right after, so Asio lets go of it first.
  static void cleanup(void* data) {
    auto& c = of(data);
    c.reading = c.writing = false;
    c.ac = nullptr;
    release_socket(c.socket);
    if (c.st == state::ready) c.pool.count_connection(-1);
    c.st = state::closed;
    c.closed_at = clock::now();
    c.stall_timer.cancel();
  }
  static void release_socket(asio::posix::stream_descriptor& s) {
    if (s.is_open()) s.release();  // cancels the armed waits
  }

  void arm_read() {
    if (read_armed || !ac) return;
    read_armed = true;
    socket.async_wait(asio::posix::descriptor_base::wait_read, [self = shared_from_this()](boost::system::error_code ec) {
      self->read_armed = false;
      if (ec || !self->ac || !self->reading) return;
      redisAsyncHandleRead(self->ac);
      if (self->ac && self->reading) self->arm_read();
    });
  }

  void arm_write() {
    if (write_armed || !ac) return;
    write_armed = true;
    socket.async_wait(asio::posix::descriptor_base::wait_write, [self = shared_from_this()](boost::system::error_code ec) {
      self->write_armed = false;
      if (ec || !self->ac || !self->writing) return;
      redisAsyncHandleWrite(self->ac);
      if (self->ac && self->writing) self->arm_write();
    });
  }

  // While commands wait, checks every `timeout` that some reply came since
  // the last check; a connection that answers nothing for that long closes.
  void watch(std::chrono::milliseconds timeout) {
    if (stall_armed || pending == 0 || !ac) return;
    stall_armed = true;
    stall_timer.expires_after(timeout);
    stall_timer.async_wait([self = shared_from_this(), seen = replies, timeout](boost::system::error_code ec) {
      self->stall_armed = false;
      if (ec || !self->ac || self->pending == 0) return;
      if (self->replies == seen) {
        std::fprintf(stderr, "redis_gateway: redis instance %s: no reply within %lld ms; closing the pipelined connection\n",
                     self->name.c_str(), static_cast<long long>(timeout.count()));
        self->close("no reply within " + std::to_string(timeout.count()) + " ms");
        return;
      }
      self->watch(timeout);
    });
  }

  // Frees the context: hiredis fails every pending command (their callbacks
  // see a null reply and `close_reason`) and calls cleanup(). Never called
  // from inside a hiredis callback, where redisAsyncFree only defers.
  void close(std::string reason) {
    if (!ac) return;
    close_reason = std::move(reason);
    redisAsyncFree(ac);
  }

  bool send(std::vector<std::string_view> argv, redisCallbackFn* fn, void* privdata) {
    std::vector<const char*> args;
    std::vector<std::size_t> lens;
    args.reserve(argv.size());
    lens.reserve(argv.size());
    for (auto a : argv) args.push_back(a.data()), lens.push_back(a.size());
    if (!ac || redisAsyncCommandArgv(ac, fn, privdata, static_cast<int>(args.size()), args.data(), lens.data()) != REDIS_OK)
      return false;
    ++pending;
    return true;
  }

  // Why a command got no reply.
  std::string lost(const redisAsyncContext* ctx) const {
    if (!close_reason.empty()) return "redis: " + close_reason;
    if (ctx && ctx->c.err) return std::string("redis: ") + ctx->c.errstr;
    return "redis: connection closed";
  }
};

const char* const redis_pipeline::pipeline_client_name = "redis_gateway-pipeline";

redis_pipeline::redis_pipeline(asio::io_context& ioc, redis_pool& pool, redis_pipeline_options opts)
    : ioc_(ioc), pool_(pool), opts_(opts) {}

redis_pipeline::~redis_pipeline() {
  for (auto& [name, c] : connections_) c->close("gateway stopping");
}

bool redis_pipeline::ready(const std::string& instance) {
  const auto generation = pool_.generation(instance);
  auto it = connections_.find(instance);
  if (it != connections_.end()) {
    connection& c = *it->second;
    if (generation && c.generation == *generation) {
      if (c.st == connection::state::ready) return true;
      if (c.st == connection::state::opening) return false;
      if (c.closed_at > failed_[instance]) failed_[instance] = c.closed_at;
    } else {
      c.close("instance changed");
    }
    connections_.erase(it);
  }
  if (!generation) {
    failed_.erase(instance);
    return false;
  }
  if (auto f = failed_.find(instance); f != failed_.end() && clock::now() - f->second < opts_.reopen_delay) return false;
  open(instance);
  return false;
}

void redis_pipeline::open(const std::string& instance) {
  const auto addr = pool_.address_of(instance);
  if (!addr) return;
  redisAsyncContext* ac = redisAsyncConnect(addr->instance.host.c_str(), addr->instance.port);
  if (!ac || ac->err) {
    std::fprintf(stderr, "redis_gateway: redis instance %s: pipelined connection failed: %s\n", instance.c_str(),
                 ac ? ac->errstr : "cannot allocate a connection");
    if (ac) redisAsyncFree(ac);
    failed_[instance] = clock::now();
    return;
  }
  auto c = std::make_shared<connection>(ioc_, pool_, instance, addr->generation);
  c->ac = ac;
  ac->data = c.get();
  ac->ev.data = c.get();
  ac->ev.addRead = &connection::add_read;
  ac->ev.delRead = &connection::del_read;
  ac->ev.addWrite = &connection::add_write;
  ac->ev.delWrite = &connection::del_write;
  ac->ev.cleanup = &connection::cleanup;
  c->socket.assign(ac->c.fd);
  const auto& password = addr->instance.password;
  if (!password.empty()) c->send({"AUTH", password}, &connection::on_auth, nullptr);
  c->send({"CLIENT", "SETNAME", pipeline_client_name}, &connection::on_setname, nullptr);
  c->send({"PING"}, &connection::on_ping, nullptr);
  c->watch(opts_.timeout);  // also bounds the connect
  connections_.emplace(instance, std::move(c));
}

void redis_pipeline::start(const std::string& instance, std::vector<std::string> argv, handler done) {
  auto& c = *connections_.at(instance);
  auto cmd = std::make_unique<pending_command>(pending_command{std::move(done), argv.front(), clock::now(), &ioc_});
  std::vector<std::string_view> args(argv.begin(), argv.end());
  if (!c.send(std::move(args), &connection::on_reply, cmd.get())) {
    redis_result out{redis_result::outcome::unavailable, nullptr, c.lost(c.ac)};
    record_command(cmd->command, out, clock::now() - cmd->start);
    asio::post(ioc_, [done = std::move(cmd->done), out = std::move(out)]() mutable { std::move(done)(std::move(out)); });
    return;
  }
  cmd.release();  // on_reply owns it now
  c.watch(opts_.timeout);
}

}  // namespace redis_gateway
