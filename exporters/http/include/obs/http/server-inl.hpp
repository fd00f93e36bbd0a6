// Definitions of obs/http/server.hpp: the Beast server behind
// obs::http::server — acceptor, sessions, render threads and their shutdown.
#pragma once

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "obs/detail/config.hpp"
#include "obs/http/handler.hpp"
#include "obs/http/server.hpp"

OBS_NAMESPACE_BEGIN
namespace http {

namespace detail {

namespace net = boost::asio;
namespace beast = boost::beast;

class session;

/// What the acceptor and every session share. Sessions hold it by shared_ptr,
/// so it outlives the server object while their handlers are still queued.
struct server_state {
  server_state(net::io_context& context, std::shared_ptr<class handler> h)
      : ioc(context), handler(std::move(h)), acceptor(net::make_strand(ioc)), retry(acceptor.get_executor()),
        renderers(std::max(1u, handler->config().render_threads)) {}

  net::io_context& ioc;
  std::shared_ptr<class handler> handler;
  net::ip::tcp::acceptor acceptor;  // on a strand: stop() and the accept loop race otherwise
  net::steady_timer retry;          // backs off when accept fails (e.g. out of descriptors)
  unsigned accept_failures = 0;     // in a row; touched only on the acceptor's strand
  // Runs what may block (renders, routes). Joined by server::stop(), so never
  // destroyed on one of its own threads: the server holds this state until then.
  net::thread_pool renderers;
  std::atomic<std::size_t> connections{0};
  std::atomic<bool> stopping{false};
  // Guards `sessions`, and orders posts to `renderers` before stop() joins it.
  std::mutex sessions_mutex;
  std::unordered_set<session*> sessions;

  const options& opts() const noexcept { return handler->config(); }
};

/// One accepted connection: reads requests, answers them, keeps alive.
class session : public std::enable_shared_from_this<session> {
 public:
  session(net::ip::tcp::socket&& socket, std::shared_ptr<server_state> state)
      : stream_(std::move(socket)), state_(std::move(state)) {
    // Ordering: the count only enforces a limit; it publishes no data.
    state_->connections.fetch_add(1, std::memory_order_relaxed);
  }

  ~session() {
    {
      std::lock_guard lock(state_->sessions_mutex);
      state_->sessions.erase(this);
    }
    // Ordering: as in the constructor.
    state_->connections.fetch_sub(1, std::memory_order_relaxed);
  }

  void run() {
    bool stopping = false;
    {
      std::lock_guard lock(state_->sessions_mutex);
      state_->sessions.insert(this);
      // stop() sets the flag before it walks the set under this lock, so a
      // session either is in the walk or sees the flag here.
      // Ordering: seq_cst, though the lock already orders it against stop().
      stopping = state_->stopping.load();
    }
    if (stopping) return abort();
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->await_request(); });
  }

  /// Aborts whatever the session is doing; its handlers finish with
  /// operation_aborted and release it.
  void abort() {
    net::post(stream_.get_executor(), [self = shared_from_this()] { self->stream_.close(); });
  }

 private:
  // Waits for the first byte of the next request: the idle timeout applies
  // until then, the header timeout from then on.
  void await_request() {
    if (buffer_.size() > 0) return read_header();
    const options& o = state_->opts();
    stream_.expires_after(first_ ? o.header_timeout : o.idle_timeout);
    stream_.async_read_some(buffer_.prepare(1024),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              if (ec) return self->on_error(ec, !self->first_);
                              self->buffer_.commit(n);
                              self->read_header();
                            });
  }

  void read_header() {
    const options& o = state_->opts();
    parser_.emplace();
    parser_->header_limit(o.max_header_bytes);
    parser_->body_limit(o.max_body_bytes);
    stream_.expires_after(o.header_timeout);
    beast::http::async_read_header(stream_, buffer_, *parser_,
                                   [self = shared_from_this()](beast::error_code ec, std::size_t) {
                                     if (ec) return self->on_error(ec, false);
                                     if (self->parser_->is_done()) return self->respond();
                                     // The body shares the header's deadline.
                                     beast::http::async_read(
                                         self->stream_, self->buffer_, *self->parser_,
                                         [self](beast::error_code ec2, std::size_t) {
                                           if (ec2) return self->on_error(ec2, false);
                                           self->respond();
                                         });
                                   });
  }

  // Answers probes and errors here; hands renders and routes to the render
  // threads, then writes their response back on this session's strand.
  void respond() {
    handler::exchange ex = state_->handler->begin(parser_->get());
    if (!ex.blocks()) return send(ex.finish());
    std::lock_guard lock(state_->sessions_mutex);
    // Checked under the lock stop() takes after setting the flag: a render
    // posted here is queued before stop() joins the pool, none after.
    // Ordering: seq_cst, though the lock already orders it against stop().
    if (state_->stopping.load()) return close();
    net::post(state_->renderers, [self = shared_from_this(), ex = std::move(ex)]() mutable {
      // stop() waits for the pool: skip renders nobody will read.
      // Ordering: seq_cst; a late answer only costs a render, not correctness.
      if (self->state_->stopping.load()) return;
      net::post(self->stream_.get_executor(),
                [self, res = ex.finish()]() mutable { self->send(std::move(res)); });
    });
  }

  void send(response res) {
    res_ = std::make_shared<response>(std::move(res));
    stream_.expires_after(state_->opts().write_timeout);
    beast::http::async_write(stream_, *res_,
                             [self = shared_from_this()](beast::error_code ec, std::size_t) {
                               if (ec) return self->on_error(ec, false);
                               // Ordering: seq_cst; stop() aborts the session anyway.
                               if (!self->res_->keep_alive() || self->state_->stopping.load())
                                 return self->linger_close();
                               self->res_.reset();
                               self->first_ = false;
                               self->await_request();
                             });
  }

  // `idle`: the connection sat between requests, where closing on timeout is
  // routine rather than an error.
  void on_error(beast::error_code ec, bool idle) {
    namespace bh = beast::http;
    handler& h = *state_->handler;
    if (ec == beast::error::timeout) {
      if (!idle && h.events()) h.events()->on_error(error_cause::timeout);
      return;  // the stream already closed the socket
    }
    if (ec == bh::error::header_limit)
      return send(h.error_response(bh::status::request_header_fields_too_large, error_cause::header_too_large,
                                   "Request Header Fields Too Large"));
    if (ec == bh::error::body_limit)
      return send(h.error_response(bh::status::payload_too_large, error_cause::body_too_large,
                                   "Payload Too Large"));
    if (ec == bh::error::end_of_stream || ec == bh::error::partial_message || ec == net::error::eof ||
        ec == net::error::operation_aborted || ec.category() != bh::make_error_code(bh::error::bad_method).category())
      return close();  // the peer left, or the transport failed: nobody to answer
    send(h.error_response(bh::status::bad_request, error_cause::bad_request, "Bad Request"));
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
    stream_.close();
  }

  // After a final response, reads and discards what the client still sends
  // before closing: closing a socket with unread input sends RST, and the
  // client may then lose the response (RFC 9112 section 9.6).
  void linger_close() {
    beast::error_code ignored;
    stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
    stream_.expires_after(std::chrono::seconds(1));
    drain();
  }

  void drain() {
    buffer_.consume(buffer_.size());
    stream_.async_read_some(buffer_.prepare(4096), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->stream_.close();
      self->drain();
    });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<beast::http::request_parser<beast::http::string_body>> parser_;
  std::shared_ptr<response> res_;
  std::shared_ptr<server_state> state_;
  bool first_ = true;
};

/// Answers a connection over the limit with 503 and closes it.
OBS_INLINE void reject(net::ip::tcp::socket&& socket, const std::shared_ptr<server_state>& state) {
  struct rejection {
    beast::tcp_stream stream;
    response res;
  };
  auto r = std::make_shared<rejection>(rejection{
      beast::tcp_stream(std::move(socket)),
      state->handler->error_response(beast::http::status::service_unavailable, error_cause::connection_limit,
                                     "Service Unavailable: too many connections")});
  r->res.set(beast::http::field::retry_after, "1");
  // Short: an over-limit client gets one chance to read its answer.
  r->stream.expires_after(std::chrono::seconds(1));
  beast::http::async_write(r->stream, r->res, [r](beast::error_code, std::size_t) {
    beast::error_code ignored;
    r->stream.socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
    r->stream.close();
  });
}

// Accept errors (EMFILE, ENFILE, ENOBUFS: the process or the system is out
// of descriptors or memory) are usually transient, so the listener never
// gives up; it counts each one, says so on stderr once per burst rather than
// once per retry, and backs off so it neither spins nor waits long after the
// descriptors come back.
OBS_INLINE void accept_next(const std::shared_ptr<server_state>& state) {
  state->acceptor.async_accept(
      net::make_strand(state->ioc), [state](beast::error_code ec, net::ip::tcp::socket socket) {
        // Ordering: seq_cst; stop() closes the acceptor anyway.
        if (state->stopping.load() || ec == net::error::operation_aborted) return;
        if (ec) {
          if (observer* events = state->handler->events()) events->on_error(error_cause::accept_failed);
          if (state->accept_failures++ == 0)
            std::fprintf(stderr, "obs::http: accept failed: %s; retrying\n", ec.message().c_str());
          // 10 ms doubling to 1 s: the connection stays queued, so retrying at
          // once would fail again, and a long wait would leave it queued.
          const int delay_ms = std::min(10 << std::min(state->accept_failures - 1, 7u), 1000);
          state->retry.expires_after(std::chrono::milliseconds(delay_ms));
          state->retry.async_wait([state](beast::error_code wait_ec) {
            if (!wait_ec) accept_next(state);
          });
          return;
        }
        if (state->accept_failures > 0) {
          std::fprintf(stderr, "obs::http: accepting again after %u failed accepts\n", state->accept_failures);
          state->accept_failures = 0;
        }
        // Ordering: the count only enforces a limit; it publishes no data.
        if (state->connections.load(std::memory_order_relaxed) >= state->opts().max_connections)
          reject(std::move(socket), state);
        else
          std::make_shared<session>(std::move(socket), state)->run();
        accept_next(state);
      });
}

}  // namespace detail

/// What a server object owns: the io_context when it runs its own, the state
/// it shares with the sessions, and its threads.
struct server::impl {
  explicit impl(std::shared_ptr<class handler> h)
      : own_ioc(std::in_place, static_cast<int>(h->config().threads)), ioc(*own_ioc),
        state(std::make_shared<detail::server_state>(ioc, std::move(h))) {}

  impl(boost::asio::io_context& context, std::shared_ptr<class handler> h)
      : ioc(context), state(std::make_shared<detail::server_state>(ioc, std::move(h))) {}

  // Declared first so it is destroyed last: everything below holds sockets
  // and timers that belong to it.
  std::optional<boost::asio::io_context> own_ioc;
  boost::asio::io_context& ioc;
  std::shared_ptr<detail::server_state> state;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  std::uint16_t port = 0;
};

OBS_INLINE server::server(std::shared_ptr<class handler> h) : impl_(std::make_unique<impl>(std::move(h))) {}

OBS_INLINE server::server(boost::asio::io_context& ioc, std::shared_ptr<class handler> h)
    : impl_(std::make_unique<impl>(ioc, std::move(h))) {}

OBS_INLINE server::server(render_fn render, options opts, std::shared_ptr<observer> events)
    : server(std::make_shared<class handler>(std::move(render), std::move(opts), std::move(events))) {}

OBS_INLINE server::~server() { stop(); }

OBS_INLINE void server::start() {
  namespace net = boost::asio;
  const options& o = impl_->state->opts();
  const net::ip::tcp::endpoint ep(net::ip::make_address(o.address), o.port);
  auto& acc = impl_->state->acceptor;
  acc.open(ep.protocol());
  // Lets a restarted process bind while old connections sit in TIME_WAIT.
  acc.set_option(net::socket_base::reuse_address(true));
  acc.bind(ep);
  acc.listen(net::socket_base::max_listen_connections);
  impl_->port = acc.local_endpoint().port();
  detail::accept_next(impl_->state);
  if (impl_->own_ioc) {
    impl_->work.emplace(impl_->own_ioc->get_executor());
    for (unsigned i = 0; i < std::max(1u, o.threads); ++i)
      impl_->threads.emplace_back([ioc = &*impl_->own_ioc] { ioc->run(); });
  }
}

OBS_INLINE void server::stop() {
  namespace net = boost::asio;
  const std::shared_ptr<detail::server_state>& state = impl_->state;
  // Ordering: seq_cst, so the flag is set before the walk under the lock
  // below; only the first caller goes on.
  if (state->stopping.exchange(true)) return;
  net::post(state->acceptor.get_executor(), [state] {
    boost::system::error_code ignored;
    state->acceptor.close(ignored);
    state->retry.cancel();
  });
  std::vector<std::shared_ptr<detail::session>> open;
  {
    std::lock_guard lock(state->sessions_mutex);
    for (detail::session* s : state->sessions)
      // A session whose destructor is waiting on the lock is already
      // expired: lock() returns null and it is skipped.
      if (auto alive = s->weak_from_this().lock()) open.push_back(std::move(alive));
  }
  // Outside the lock: dropping the last reference runs a session's
  // destructor, which takes the lock.
  for (auto& s : open) s->abort();
  open.clear();
  // Before the I/O threads: a render still running posts its response to
  // them, and the render callable must not outlive stop().
  state->renderers.join();
  impl_->work.reset();
  for (std::thread& t : impl_->threads) t.join();
  impl_->threads.clear();
}

OBS_INLINE std::uint16_t server::port() const noexcept { return impl_->port; }

OBS_INLINE class handler& server::handler() noexcept { return *impl_->state->handler; }

OBS_INLINE class health& server::health() noexcept { return impl_->state->handler->health(); }

OBS_INLINE std::size_t server::connections() const noexcept {
  // Ordering: a gauge read for display and limits; it publishes no data.
  return impl_->state->connections.load(std::memory_order_relaxed);
}

}  // namespace http
OBS_NAMESPACE_END
