#include "server.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <obs/http.hpp>
#include <obs/http/handler.hpp>

#include "metrics.hpp"
#include "redis_pipeline.hpp"

namespace redis_gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

// One I/O thread: an io_context that it alone runs, and the pipelined Redis
// connections that its HTTP connections share.
struct io_thread {
  io_thread(redis_pool& pool, const config& cfg)
      : pipes(ioc, pool, {.timeout = cfg.redis_timeout, .reopen_delay = cfg.retry_delay}) {}
  asio::io_context ioc{1};  // run by one thread: a hint that spares Asio some locking
  asio::executor_work_guard<asio::io_context::executor_type> busy = asio::make_work_guard(ioc);
  redis_pipeline pipes;  // after ioc: closes its connections before ioc goes
  std::thread thread;
};

struct server::impl {
  impl(const config& c, gateway& g, redis_pool& p)
      : cfg(c), gw(g), workers(c.workers),
        probes(std::make_shared<obs::http::handler>(obs::http::registry_source())) {
    for (unsigned t = 0; t < std::max(c.io_threads, 1u); ++t) io.push_back(std::make_unique<io_thread>(p, c));
    acceptor.emplace(io.front()->ioc);
    add_checks(probes->health());
  }

  void add_checks(obs::http::health& h) {
    h.add_check("database", [this] { return gw.check_database(); });
    h.add_check("redis_pool", [this] { return gw.check_redis(); });
  }

  bool metrics_here() const { return cfg.metrics_enabled && !cfg.metrics_listen; }

  // The route's template, or "unmatched": the only values `path` takes.
  static std::string_view path_label(const route_match& m) {
    return m.route && m.result != route_match::outcome::not_found ? m.route->path : http_routes::unmatched;
  }

  static void record(std::string_view method, std::string_view path, unsigned status,
                     std::chrono::steady_clock::time_point start) {
    const std::string code = std::to_string(status);
    const std::string_view verb = method_label(method);
    OBS_COUNTER_FAMILY("http_requests_total", "method", "path", "status").with(verb, path, code).increment();
    if (status >= 400)
      OBS_COUNTER_FAMILY("http_request_errors_total", "method", "path", "status").with(verb, path, code).increment();
    OBS_HISTOGRAM_FAMILY("http_request_duration_seconds", "method", "path")
        .with(verb, path)
        .record(std::chrono::steady_clock::now() - start);
  }

  static obs::http::response to_response(http_reply r, unsigned version) {
    obs::http::response res(static_cast<bhttp::status>(r.status), version);
    res.set(bhttp::field::content_type, "application/json");
    if (r.retry_after) res.set(bhttp::field::retry_after, std::to_string(*r.retry_after));
    if (!r.allow.empty()) res.set(bhttp::field::allow, r.allow);
    if (r.authenticate) res.set(bhttp::field::www_authenticate, "Bearer");
    res.body() = std::move(r.body);
    res.prepare_payload();
    return res;
  }

  // Runs on a worker thread: a request that may block.
  obs::http::response answer(const obs::http::request& req) {
    const auto start = std::chrono::steady_clock::now();
    const std::string_view method(req.method_string().data(), req.method_string().size());
    const std::string_view target(req.target().data(), req.target().size());
    route_match m = gw.match(method, target);
    const bool builtin = m.found() && (m.route->id == route_id::health || m.route->id == route_id::health_live ||
                                       m.route->id == route_id::health_ready ||
                                       (m.route->id == route_id::metrics && metrics_here()));
    if (m.found() && m.route->id == route_id::metrics && !builtin) m = route_match{};  // 404, "unmatched"
    obs::http::response res;
    if (builtin) {
      res = (*probes)(req);
    } else {
      const auto auth = req[bhttp::field::authorization];
      res = to_response(gw.handle(m, {method, target, {auth.data(), auth.size()}, req.body()}), req.version());
    }
    res.keep_alive(req.keep_alive());
    record(method, path_label(m), res.result_int(), start);
    return res;
  }

  // A Redis route, on the I/O thread: admitted here, its command pipelined on
  // the thread's connection to the instance, or, while that is not ready,
  // run on the blocking pool by a worker (which connects with the retry
  // loop).
  asio::awaitable<obs::http::response> redis_answer(const obs::http::request& req, const route_match& m,
                                                    io_thread& t) {
    const auto start = std::chrono::steady_clock::now();
    const std::string_view method(req.method_string().data(), req.method_string().size());
    const std::string_view target(req.target().data(), req.target().size());
    const auto auth = req[bhttp::field::authorization];
    admission a = gw.admit(m, {method, target, {auth.data(), auth.size()}, req.body()});
    http_reply reply;
    if (!a.call) {
      reply = std::move(a.reply);
    } else if (t.pipes.ready(a.call->instance)) {
      reply = gateway::finish(co_await t.pipes.async_execute(a.call->instance, std::move(a.call->argv), asio::use_awaitable));
    } else {
      auto blocking = [this, &a]() -> asio::awaitable<http_reply> { co_return gw.execute(*a.call); };
      reply = co_await asio::co_spawn(workers, blocking, asio::use_awaitable);
    }
    obs::http::response res = to_response(std::move(reply), req.version());
    res.keep_alive(req.keep_alive());
    record(method, path_label(m), res.result_int(), start);
    co_return res;
  }

  // A transport-level failure (431, 413, 400): answered and counted, then
  // the connection closes, since the rest of the stream cannot be trusted.
  obs::http::response failure(bhttp::status status, std::string_view message, const route_match& m,
                              std::string_view method, std::chrono::steady_clock::time_point start) {
    http_reply r{static_cast<unsigned>(status), std::string(R"({"error":")") + std::string(message) + "\"}", {}, {}, false};
    obs::http::response res = to_response(r, 11);
    res.keep_alive(false);
    record(method, path_label(m), r.status, start);
    return res;
  }

  asio::awaitable<void> session(tcp::socket socket, io_thread& t) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    beast::error_code ec;
    for (;;) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(cfg.max_header_bytes));
      parser.body_limit(cfg.max_body_bytes);
      stream.expires_after(std::chrono::seconds(30));
      co_await bhttp::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
      const auto start = std::chrono::steady_clock::now();
      obs::http::response res;
      if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::eof ||
          ec == asio::error::connection_reset || ec == asio::error::operation_aborted) {
        break;
      } else if (ec) {
        const auto& h = parser.get();
        const std::string_view method(h.method_string().data(), h.method_string().size());
        const route_match m = parser.is_header_done() ? gw.match(method, {h.target().data(), h.target().size()})
                                                      : route_match{};
        if (ec == bhttp::error::body_limit)
          res = failure(bhttp::status::payload_too_large, "request body too large", m, method, start);
        else if (ec == bhttp::error::header_limit)
          res = failure(bhttp::status::request_header_fields_too_large, "request header too large", m, method, start);
        else
          res = failure(bhttp::status::bad_request, "malformed request", m, method, start);
      } else {
        const obs::http::request& req = parser.get();
        const std::string_view target(req.target().data(), req.target().size());
        const std::string_view method(req.method_string().data(), req.method_string().size());
        // Redis routes stay on this thread (redis_answer); anything that may
        // query PostgreSQL goes to the workers, so I/O threads keep serving.
        const route_match m = gw.match(method, target);
        if (gateway::is_redis(m)) {
          res = co_await redis_answer(req, m, t);
        } else {
          auto blocking = [this, &req]() -> asio::awaitable<obs::http::response> { co_return answer(req); };
          res = co_await asio::co_spawn(workers, blocking, asio::use_awaitable);
        }
      }
      stream.expires_after(std::chrono::seconds(10));
      const bool keep = res.keep_alive();
      co_await bhttp::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
      if (ec || !keep) break;
    }
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  asio::awaitable<void> accept_loop() {
    for (std::size_t next = 0;; next = (next + 1) % io.size()) {
      beast::error_code ec;
      io_thread& t = *io[next];  // connections go round the I/O threads
      tcp::socket socket = co_await acceptor->async_accept(t.ioc, asio::redirect_error(asio::use_awaitable, ec));
      if (ec == asio::error::operation_aborted) co_return;
      if (ec) continue;  // e.g. EMFILE: the client goes, the server stays
      if (open.load(std::memory_order_relaxed) >= cfg.max_connections) {
        // Ordering: an admission limit, approximate by design.
        socket.close(ec);
        continue;
      }
      open.fetch_add(1, std::memory_order_relaxed);
      asio::co_spawn(t.ioc, session(std::move(socket), t), [this](const std::exception_ptr&) {
        // Ordering: as above.
        open.fetch_sub(1, std::memory_order_relaxed);
      });
    }
  }

  const config& cfg;
  gateway& gw;
  asio::thread_pool workers;
  std::vector<std::unique_ptr<io_thread>> io;
  std::optional<tcp::acceptor> acceptor;  // on the first I/O thread
  std::shared_ptr<obs::http::handler> probes;
  std::unique_ptr<obs::http::server> management;
  std::atomic<std::size_t> open{0};
  bool stopped = false;
};

server::server(const config& cfg, gateway& gw, redis_pool& pool) : impl_(std::make_unique<impl>(cfg, gw, pool)) {}

server::~server() { stop(); }

void server::start() {
  auto& i = *impl_;
  const tcp::endpoint ep(asio::ip::make_address(i.cfg.listen.host), i.cfg.listen.port);
  i.acceptor->open(ep.protocol());
  i.acceptor->set_option(tcp::acceptor::reuse_address(true));
  i.acceptor->bind(ep);
  i.acceptor->listen(asio::socket_base::max_listen_connections);
  if (i.cfg.metrics_enabled && i.cfg.metrics_listen) {
    obs::http::options o;
    o.address = i.cfg.metrics_listen->host;
    o.port = i.cfg.metrics_listen->port;
    i.management = obs::http::serve(o);
    i.add_checks(i.management->health());
    std::printf("redis_gateway: metrics on %s:%u\n", o.address.c_str(), i.management->port());
  }
  asio::co_spawn(i.io.front()->ioc, i.accept_loop(), asio::detached);
  for (auto& t : i.io) t->thread = std::thread([&ioc = t->ioc] { ioc.run(); });
  std::printf("redis_gateway: listening on %s:%u\n", i.cfg.listen.host.c_str(), port());
  std::fflush(stdout);
}

void server::stop() {
  auto& i = *impl_;
  if (i.stopped) return;
  i.stopped = true;
  if (i.management) i.management->stop();
  for (auto& t : i.io) t->ioc.stop();
  for (auto& t : i.io)
    if (t->thread.joinable()) t->thread.join();
  i.workers.join();
}

std::uint16_t server::port() const {
  beast::error_code ec;
  return impl_->acceptor->local_endpoint(ec).port();
}

}  // namespace redis_gateway
