// obs::http::server: the management-port HTTP/1.1 server (Boost.Beast) that
// runs an obs::http::handler, with connection limits and timeouts.
//
// Use it to expose metrics and health probes on their own port; use
// obs::http::serve (registry_source.hpp) for the one-liner on a registry. It
// runs on its own threads, or on an io_context you already run.
//
//   obs::http::options o;
//   o.port = 0;
//   obs::http::server srv(render, o);   // render: std::string(obs::http::format)
//   srv.start();
//   std::printf("listening on %u\n", srv.port());
//
// The I/O threads read requests, write responses and answer the health
// probes; metrics renders and application routes run on `render_threads`
// threads of the server's own, so a liveness probe never waits behind a slow
// scrape.
//
// Defences, all set in obs::http::options: at most `max_connections` open
// connections (the excess gets 503 and is closed); a request must arrive
// within `header_timeout` of its first byte (slowloris); idle keep-alive
// connections close after `idle_timeout`; a reader that stalls is dropped
// after `write_timeout`; headers over `max_header_bytes` get 431, bodies over
// `max_body_bytes` get 413, unparsable requests 400.
//
// Thread safety: start() and stop() may be called from any thread but not
// from a handler; everything the handler does is thread-safe.
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
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "obs/detail/config.hpp"
#include "obs/http/handler.hpp"

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
    state_->connections.fetch_sub(1, std::memory_order_relaxed);
  }

  void run() {
    bool stopping = false;
    {
      std::lock_guard lock(state_->sessions_mutex);
      state_->sessions.insert(this);
      // stop() sets the flag before it walks the set under this lock, so a
      // session either is in the walk or sees the flag here.
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
    if (state_->stopping.load()) return close();
    net::post(state_->renderers, [self = shared_from_this(), ex = std::move(ex)]() mutable {
      // stop() waits for the pool: skip renders nobody will read.
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
inline void reject(net::ip::tcp::socket&& socket, const std::shared_ptr<server_state>& state) {
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

inline void accept_next(const std::shared_ptr<server_state>& state) {
  state->acceptor.async_accept(
      net::make_strand(state->ioc), [state](beast::error_code ec, net::ip::tcp::socket socket) {
        if (state->stopping.load() || ec == net::error::operation_aborted) return;
        if (ec) {
          // Typically EMFILE: retrying at once would spin on the same error.
          state->retry.expires_after(std::chrono::milliseconds(50));
          state->retry.async_wait([state](beast::error_code wait_ec) {
            if (!wait_ec) accept_next(state);
          });
          return;
        }
        if (state->connections.load(std::memory_order_relaxed) >= state->opts().max_connections)
          reject(std::move(socket), state);
        else
          std::make_shared<session>(std::move(socket), state)->run();
        accept_next(state);
      });
}

}  // namespace detail

/// The HTTP server: binds, accepts, and runs a handler on each request.
class server {
 public:
  /// A server that runs `h` on `h->config().threads` threads of its own.
  explicit server(std::shared_ptr<class handler> h)
      : own_ioc_(std::in_place, static_cast<int>(h->config().threads)), ioc_(*own_ioc_),
        state_(std::make_shared<detail::server_state>(ioc_, std::move(h))) {}

  /// A server that runs `h` on `ioc`, which the caller runs. `ioc` must outlive
  /// every handler the server queued, i.e. keep running it until stop() is done.
  server(boost::asio::io_context& ioc, std::shared_ptr<class handler> h)
      : ioc_(ioc), state_(std::make_shared<detail::server_state>(ioc_, std::move(h))) {}

  /// A server on its own threads serving what `render` produces.
  ///
  ///   obs::http::server srv([](obs::http::format) { return std::string("up 1\n"); });
  explicit server(render_fn render, options opts = {}, std::shared_ptr<observer> events = {})
      : server(std::make_shared<class handler>(std::move(render), std::move(opts), std::move(events))) {}

  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Stops and joins.
  ~server() { stop(); }

  /// Binds `address:port`, starts accepting and, for a server that owns its
  /// threads, starts them. Throws boost::system::system_error when the address
  /// cannot be bound.
  void start() {
    namespace net = boost::asio;
    const options& o = state_->opts();
    const net::ip::tcp::endpoint ep(net::ip::make_address(o.address), o.port);
    auto& acc = state_->acceptor;
    acc.open(ep.protocol());
    // Lets a restarted process bind while old connections sit in TIME_WAIT.
    acc.set_option(net::socket_base::reuse_address(true));
    acc.bind(ep);
    acc.listen(net::socket_base::max_listen_connections);
    port_ = acc.local_endpoint().port();
    detail::accept_next(state_);
    if (own_ioc_) {
      work_.emplace(own_ioc_->get_executor());
      for (unsigned i = 0; i < std::max(1u, o.threads); ++i) threads_.emplace_back([this] { own_ioc_->run(); });
    }
  }

  /// Stops accepting and closes every connection. For a server that owns its
  /// threads, returns once they have finished; idempotent.
  void stop() {
    namespace net = boost::asio;
    if (state_->stopping.exchange(true)) return;
    net::post(state_->acceptor.get_executor(), [state = state_] {
      boost::system::error_code ignored;
      state->acceptor.close(ignored);
      state->retry.cancel();
    });
    std::vector<std::shared_ptr<detail::session>> open;
    {
      std::lock_guard lock(state_->sessions_mutex);
      for (detail::session* s : state_->sessions)
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
    state_->renderers.join();
    work_.reset();
    for (std::thread& t : threads_) t.join();
    threads_.clear();
  }

  /// The bound port (the chosen one when options::port was 0); 0 before start().
  std::uint16_t port() const noexcept { return port_; }

  /// The handler: add routes, reach health checks.
  class handler& handler() noexcept { return *state_->handler; }
  /// Shorthand for handler().health().
  class health& health() noexcept { return state_->handler->health(); }
  /// Shorthand for handler().add_route(...).
  void add_route(std::string path, route_fn fn,
                 std::initializer_list<boost::beast::http::verb> methods = {boost::beast::http::verb::get}) {
    state_->handler->add_route(std::move(path), std::move(fn), methods);
  }
  /// Open connections right now.
  std::size_t connections() const noexcept { return state_->connections.load(std::memory_order_relaxed); }

 private:
  // Declared first so it is destroyed last: everything below holds sockets
  // and timers that belong to it.
  std::optional<boost::asio::io_context> own_ioc_;
  boost::asio::io_context& ioc_;
  std::shared_ptr<detail::server_state> state_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
  std::uint16_t port_ = 0;
};

}  // namespace http
OBS_NAMESPACE_END
