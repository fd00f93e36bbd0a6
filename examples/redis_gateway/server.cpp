#include "server.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdio>
#include <list>
#include <memory>
#include <memory_resource>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/message.hpp>

#include <obs/http/handler.hpp>
#include <obs/http/registry_source.hpp>
#include <obs/protobuf.hpp>
#include <obs/registry.hpp>
#include <service/accept_loop.hpp>
#include <service/run_io.hpp>
#include <service/relay_stream.hpp>

#include "metrics.hpp"
#include "recording.hpp"
#include "redis_pipeline.hpp"

namespace redis_gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using clock = std::chrono::steady_clock;

namespace {

// /health and /health/ready wait for the upstream checks, so they have
// threads of their own, which nothing else can fill.
constexpr unsigned probe_threads = 2;
// After the drain's deadline, for the 503s to go out.
constexpr auto answer_grace = std::chrono::seconds(1);
// A client's time to take an answer.
constexpr auto write_timeout = std::chrono::seconds(10);

// Where a request runs.
enum class runs_on { io_thread, probe_threads, workers };

// A request's header fields, and those of a Redis command's answer, are
// allocated from their session's arena, which each request starts over:
// with std::allocator, Beast's fields cost an allocation per field.
using request = bhttp::request<bhttp::string_body, bhttp::basic_fields<std::pmr::polymorphic_allocator<char>>>;
// Room for a typical request's fields and its answer's; more comes from the heap.
constexpr std::size_t arena_bytes = 1024;

// A copy of `req` for obs::http's handler (the probes and /metrics).
obs::http::request to_obs(const request& req) {
  obs::http::request copy(req.method(), req.target(), req.version(), req.body());
  for (const auto& f : req) copy.insert(f.name_string(), f.value());
  return copy;
}

// `res` as the bytes on the wire, into `out`: its header as the fields'
// writer (Beast's FieldsWriter) gives it, then its body. Beast's serializer
// wraps those buffers in views whose walk cost more than the rest of a Redis
// request's answer. Every answer here has a Content-Length (to_response,
// failure, and obs::http's handler prepares its payload), so none is chunked.
template <class Fields>
void serialize(const bhttp::response<bhttp::string_body, Fields>& res, std::string& out) {
  if (res.chunked()) throw std::logic_error("redis_gateway: a chunked answer");
  const typename Fields::writer writer(res.base(), res.version(), res.result_int());
  const auto header = writer.get();  // named: the range below refers to it
  out.clear();
  for (const asio::const_buffer b : beast::buffers_range_ref(header))
    out.append(static_cast<const char*>(b.data()), b.size());
  out += res.body();
}

}  // namespace

// One HTTP connection, as the drain and the sweep see it.
struct session_entry {
  service::relay_stream* stream;
  bool reading = false;  // waiting for a request: a drain closes it at once
  // Of the read or write under way; the sweep cancels it after this.
  clock::time_point deadline = clock::time_point::max();
};

// One I/O thread: an io_context that it alone runs, its HTTP connections and
// the Redis connections their commands share.
struct io_thread {
  explicit io_thread(const config& cfg)
      : pipes(ioc, {.timeout = cfg.redis_timeout, .attempts = cfg.max_retry_attempts, .retry_delay = cfg.retry_delay}) {}
  std::list<session_entry> sessions;  // before ioc: sessions destroyed with ioc leave it
  bool draining = false;
  asio::io_context ioc{1};  // run by one thread: a hint that spares Asio some locking
  asio::executor_work_guard<asio::io_context::executor_type> busy = asio::make_work_guard(ioc);
  redis_pipeline pipes;  // after ioc: closes its connections before ioc goes
  asio::steady_timer sweep{ioc};
  std::thread thread;
};

// The probes' handler serves /metrics too: protobuf among its formats, for
// the native request-duration histogram.
obs::http::options with_protobuf() {
  obs::http::options o;
  o.formats = o.formats.with(obs::http::format::protobuf);
  return o;
}

struct server::impl {
  impl(const config& c, gateway& g, health_checks& h, database& d)
      : cfg(c), gw(g), checks(h), db(d), workers(c.workers), probe_pool(probe_threads),
        probes(std::make_shared<obs::http::handler>(obs::http::registry_source(obs::global_registry(),
                                                                                obs::protobuf::render_to),
                                                    with_protobuf())) {
    for (unsigned t = 0; t < std::max(c.io_threads, 1u); ++t) io.push_back(std::make_unique<io_thread>(c));
    acceptor.emplace(io.front()->ioc);
    probes->health().add_check("database", [this] { return checks.check_database(); });
    probes->health().add_check("redis_pool", [this] { return checks.check_redis(); });
  }

  bool metrics_here() const { return cfg.metrics_enabled && !cfg.metrics_listen; }

  // The route's template, or "unmatched": the only values `path` takes.
  static std::string_view path_label(const route_match& m) {
    return m.route && m.result != route_match::outcome::not_found ? m.route->path : http_routes::unmatched;
  }

  // The `method` label, from the verb Beast parsed: no string compared,
  // one load from a table of every verb (a switch cost 11 instructions).
  static http_method method_of(bhttp::verb v) {
    static constexpr auto labels = [] {
      std::array<http_method, static_cast<std::size_t>(bhttp::verb::unlink) + 1> t{};
      t.fill(http_method::other);
      t[static_cast<std::size_t>(bhttp::verb::get)] = http_method::get;
      t[static_cast<std::size_t>(bhttp::verb::post)] = http_method::post;
      t[static_cast<std::size_t>(bhttp::verb::put)] = http_method::put;
      t[static_cast<std::size_t>(bhttp::verb::delete_)] = http_method::delete_;
      t[static_cast<std::size_t>(bhttp::verb::head)] = http_method::head;
      t[static_cast<std::size_t>(bhttp::verb::patch)] = http_method::patch;
      t[static_cast<std::size_t>(bhttp::verb::options)] = http_method::options;
      return t;
    }();
    const auto i = static_cast<std::size_t>(v);  // unlink is Beast 1.81's last verb; a later one is `other`
    return i < labels.size() ? labels[i] : http_method::other;
  }

  // Out of line: inlined into the session's coroutine, the records made g++
  // compile the coroutine's Beast code with about 90 more instructions a
  // request (callgrind), where the call costs about 25.
  [[gnu::noinline]] static void record(const request& req, const http_request_view& v, const route_match& m,
                                       unsigned status, clock::duration took) {
    if constexpr (metrics_enabled) record_request(method_of(req.method()), path_label(m), status, took, v.traceparent);
  }

  // Whether header name `name` is `expected`, ignoring case; the length
  // first, since most names differ in it.
  static bool is_header(beast::string_view name, std::string_view expected) {
    return name.size() == expected.size() && beast::iequals(name, {expected.data(), expected.size()});
  }

  // The parts of `req` the gateway reads, its headers found in one pass
  // over them, back to front, so that the first of a repeated header wins
  // as with req[name]. The traceparent is looked for only where requests
  // are recorded. Inline in the session loop, its one caller, where a call
  // of its own cost a stack frame per request.
  [[gnu::always_inline]] static http_request_view view(const request& req, clock::time_point arrived) {
    http_request_view v{{req.method_string().data(), req.method_string().size()},
                        {req.target().data(), req.target().size()},
                        {},
                        req.body(),
                        {},
                        arrived,
                        {}};
    for (auto it = req.end(); it != req.begin();) {
      const auto& f = *--it;
      const std::string_view value{f.value().data(), f.value().size()};
      if (f.name() == bhttp::field::authorization)
        v.authorization = value;
      else if (is_header(f.name_string(), "upstash-encoding"))
        v.encoding = value;
      else if (metrics_enabled && is_header(f.name_string(), "traceparent"))
        v.traceparent = value;
    }
    return v;
  }

  // A reply as the response to `req`, its fields allocated by `fields`:
  // HEAD gets GET's headers, Content-Length included, and no body (RFC 9110
  // section 9.3.2).
  template <class Allocator>
  static bhttp::response<bhttp::string_body, bhttp::basic_fields<Allocator>> to_response(http_reply r,
                                                                                         const request& req,
                                                                                         const Allocator& fields) {
    bhttp::response<bhttp::string_body, bhttp::basic_fields<Allocator>> res(static_cast<bhttp::status>(r.status),
                                                                            req.version(), std::string(), fields);
    res.set(bhttp::field::content_type, "application/json");
    if (r.retry_after) res.set(bhttp::field::retry_after, std::to_string(*r.retry_after));
    if (!r.allow.empty()) res.set(bhttp::field::allow, r.allow);
    if (r.authenticate) res.set(bhttp::field::www_authenticate, "Bearer");
    res.content_length(r.body.size());
    if (req.method() != bhttp::verb::head) res.body() = std::move(r.body);
    res.keep_alive(req.keep_alive());
    return res;
  }

  // /metrics (when it is served here) and the probes are obs::http's; a
  // /metrics moved to the management port is a 404 here, and "unmatched".
  route_match route_of(const request& req) const {
    route_match m = gw.match({req.method_string().data(), req.method_string().size()},
                             {req.target().data(), req.target().size()});
    if (m.found() && m.route->id == route_id::metrics && !metrics_here()) m = route_match{};
    return m;  // one return, of one object: no copy of its values
  }

  static runs_on place(const route_match& m) {
    if (m.found() && (m.route->id == route_id::health || m.route->id == route_id::health_ready))
      return runs_on::probe_threads;
    return gateway::is_api(m) ? runs_on::workers : runs_on::io_thread;
  }

  // Any route but a Redis one, on the thread place() chose.
  obs::http::response answer(const request& req, const http_request_view& v, const route_match& m) {
    if (m.found() && (m.route->id == route_id::metrics || m.route->id == route_id::health ||
                      m.route->id == route_id::health_live || m.route->id == route_id::health_ready))
      return (*probes)(to_obs(req));
    return to_response(gw.handle(m, v), req, std::allocator<char>());
  }

  asio::awaitable<obs::http::response> answer_on(asio::thread_pool& pool, const request& req,
                                                 const http_request_view& v, const route_match& m) {
    co_return co_await asio::co_spawn(
        pool, [&]() -> asio::awaitable<obs::http::response> { co_return answer(req, v, m); },
        asio::use_awaitable);
  }

  // A transport-level failure (431, 413, 400): answered and counted, then
  // the connection closes, since the rest of the stream cannot be trusted.
  static obs::http::response failure(bhttp::status status, std::string_view message) {
    obs::http::response res(status, 11);  // the version of a broken request is not to be trusted
    res.set(bhttp::field::content_type, "application/json");
    res.body() = std::string(R"({"error":")") + std::string(message) + "\"}";
    res.prepare_payload();
    res.keep_alive(false);
    return res;
  }

  asio::awaitable<void> session(tcp::socket socket, io_thread& t) {
    service::relay_stream stream(std::move(socket));
    struct registration {
      io_thread& t;
      std::list<session_entry>::iterator entry;
      ~registration() { t.sessions.erase(entry); }
    } reg{t, t.sessions.insert(t.sessions.end(), session_entry{&stream})};
    beast::flat_buffer buffer;
    std::string out;  // each response's bytes, its capacity kept for the next
    alignas(std::max_align_t) std::byte arena_buffer[arena_bytes];
    std::pmr::monotonic_buffer_resource arena(arena_buffer, sizeof arena_buffer);
    const std::pmr::polymorphic_allocator<char> fields(&arena);
    beast::error_code ec;
    auto read_deadline = clock::now() + cfg.client_timeout;
    while (!t.draining) {
      arena.release();  // the last request's and answer's fields
      bhttp::request_parser<bhttp::string_body, std::pmr::polymorphic_allocator<char>> parser(
          std::piecewise_construct, std::make_tuple(), std::make_tuple(fields));
      parser.header_limit(static_cast<std::uint32_t>(cfg.max_header_bytes));
      parser.body_limit(cfg.max_body_bytes);
      reg.entry->deadline = read_deadline;
      reg.entry->reading = true;
      co_await bhttp::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
      reg.entry->reading = false;
      // No deadline while the request is answered: each upstream has its own.
      reg.entry->deadline = clock::time_point::max();
      // One clock read for the request's start and the rate limiter's now.
      const auto start = clock::now();
      if (ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
          ec == asio::error::connection_reset || ec == asio::error::operation_aborted)
        break;
      const request& req = parser.get();
      // A broken request has a route, for its `path` label, once its header was read.
      const route_match m = !ec || parser.is_header_done() ? route_of(req) : route_match{};
      const http_request_view v = view(req, start);
      unsigned status = 0;  // the answer's, whose bytes put() leaves in `out`
      bool keep = false;
      const auto put = [&](auto&& res) {
        if (t.draining) res.keep_alive(false);
        status = res.result_int();
        keep = res.keep_alive();
        serialize(res, out);
      };
      if (ec == bhttp::error::body_limit) {
        put(failure(bhttp::status::payload_too_large, "request body too large"));
      } else if (ec == bhttp::error::header_limit) {
        put(failure(bhttp::status::request_header_fields_too_large, "request header too large"));
      } else if (ec) {
        put(failure(bhttp::status::bad_request, "malformed request"));
      } else if (gateway::is_redis(m)) {
        // Admitted from memory, its command pipelined on the thread's
        // connection to the instance. Here in the loop, where a coroutine
        // of its own cost each command a frame.
        admission a = gw.admit(m, v);
        if (a.call) {
          // Not in a conditional expression: g++ 12 frees a temporary of one
          // that holds a co_await twice.
          const redis_result r = co_await t.pipes.async_execute(std::move(a.call->instance), std::move(a.call->argv),
                                                                a.call->encoding, a.call->command, asio::use_awaitable);
          a.reply = gateway::finish(r);
        }
        put(to_response(std::move(a.reply), req, fields));
      } else {
        obs::http::response res;
        switch (place(m)) {
          case runs_on::io_thread: res = answer(req, v, m); break;
          case runs_on::probe_threads: res = co_await answer_on(probe_pool, req, v, m); break;
          case runs_on::workers: res = co_await answer_on(workers, req, v, m); break;
        }
        put(res);
      }
      // One clock read for the request's end and the deadlines of the
      // write and the next read.
      const auto end = clock::now();
      record(req, v, m, status, end - start);
      reg.entry->deadline = end + write_timeout;
      read_deadline = end + cfg.client_timeout;
      co_await asio::async_write(stream, asio::buffer(out), asio::redirect_error(asio::use_awaitable, ec));
      if (ec || !keep) break;
    }
    stream.shutdown(tcp::socket::shutdown_send, ec);
  }

  // Cancels the reads and writes whose deadline has passed, a few times
  // per --client-timeout-ms (at most once a second): one timer per thread,
  // where a timer per request cost each request a timer's start and
  // cancellation.
  void sweep(io_thread& t) {
    t.sweep.expires_after(std::min<clock::duration>(cfg.client_timeout / 4, std::chrono::seconds(1)));
    t.sweep.async_wait([this, &t](boost::system::error_code ec) {
      if (ec) return;
      const auto now = clock::now();
      boost::system::error_code ignored;  // cancel fails only for a closed socket, whose session is ending
      for (auto& s : t.sessions)
        if (s.deadline <= now) {
          s.deadline = clock::time_point::max();
          s.stream->cancel(ignored);
        }
      sweep(t);
    });
  }

  // Serves `socket` on the next I/O thread, or closes it beyond
  // --max-connections.
  void admit(tcp::socket socket) {
    boost::system::error_code ec;
    // Ordering: an admission limit, approximate by design.
    if (open.load(std::memory_order_relaxed) >= cfg.max_connections) {
      socket.close(ec);
      return;
    }
    io_thread& t = *io[next_thread];
    next_thread = (next_thread + 1) % io.size();
    // Accepted on the first I/O thread; moved to the one that serves it.
    tcp::socket moved(t.ioc);
    moved.assign(protocol, socket.release(ec), ec);
    if (ec) return;
    open.fetch_add(1, std::memory_order_relaxed);  // Ordering: as above
    asio::co_spawn(t.ioc, session(std::move(moved), t), [this](const std::exception_ptr&) {
      // Ordering: release, so that the drain, which reads it under
      // drain_mutex, sees the session's end.
      if (open.fetch_sub(1, std::memory_order_release) == 1) {
        std::lock_guard lock(drain_mutex);
        drained.notify_all();
      }
    });
  }

  // Whether every connection closed before `deadline`.
  bool wait_closed(clock::time_point deadline) {
    std::unique_lock lock(drain_mutex);
    // Ordering: acquire, pairing with the session's release.
    return drained.wait_until(lock, deadline, [this] { return open.load(std::memory_order_acquire) == 0; });
  }

  void stop() {
    if (stopped) return;
    stopped = true;
    for (auto& t : io) t->ioc.stop();
    for (auto& t : io)
      if (t->thread.joinable()) t->thread.join();
    // Joined before the io_contexts go: a request still on a worker refers
    // to its session, which lives until then.
    workers.join();
    probe_pool.join();
  }

  const config& cfg;
  gateway& gw;
  health_checks& checks;
  database& db;
  asio::thread_pool workers;
  asio::thread_pool probe_pool;
  std::vector<std::unique_ptr<io_thread>> io;
  std::optional<tcp::acceptor> acceptor;  // on the first I/O thread
  tcp protocol = tcp::v4();
  std::size_t next_thread = 0;  // the first I/O thread's
  std::shared_ptr<obs::http::handler> probes;
  std::atomic<std::size_t> open{0};
  std::mutex drain_mutex;
  std::condition_variable drained;
  bool stopped = false;
};

server::server(const config& cfg, gateway& gw, health_checks& checks, database& db)
    : impl_(std::make_unique<impl>(cfg, gw, checks, db)) {}

server::~server() { impl_->stop(); }

void server::start() {
  auto& i = *impl_;
  const tcp::endpoint ep(asio::ip::make_address(i.cfg.listen.host), i.cfg.listen.port);
  i.protocol = ep.protocol();
  i.acceptor->open(ep.protocol());
  i.acceptor->set_option(tcp::acceptor::reuse_address(true));
  i.acceptor->bind(ep);
  i.acceptor->listen(asio::socket_base::max_listen_connections);
  asio::co_spawn(
      i.io.front()->ioc,
      service::accept_loop(
          *i.acceptor, "redis_gateway", [&i](tcp::socket s) { i.admit(std::move(s)); },
          [](const boost::system::error_code&) { metrics.http_accept_errors.increment(); }),
      asio::detached);
  for (auto& t : i.io) {
    i.sweep(*t);
    t->thread = std::thread([&ioc = t->ioc, poll = i.cfg.busy_poll] { service::run_io(ioc, poll); });
  }
  std::printf("redis_gateway: listening on %s\n", service::to_string({i.cfg.listen.host, port()}).c_str());
  std::fflush(stdout);
}

void server::forget(const redis_instance& inst) {
  for (auto& t : impl_->io) asio::post(t->ioc, [&t = *t, inst] { t.pipes.forget(inst); });
}

void server::drain(std::chrono::milliseconds timeout) {
  auto& i = *impl_;
  const auto deadline = clock::now() + timeout;
  i.probes->health().set_ready(false);
  asio::post(i.io.front()->ioc, [&i] {
    boost::system::error_code ignored;
    i.acceptor->close(ignored);
  });
  for (auto& t : i.io)
    asio::post(t->ioc, [&t = *t] {
      t.draining = true;
      boost::system::error_code ignored;
      for (auto& s : t.sessions)
        if (s.reading) s.stream->cancel(ignored);
    });
  if (!i.wait_closed(deadline)) {
    i.db.stop();
    for (auto& t : i.io) asio::post(t->ioc, [&t = *t] { t.pipes.close_all("gateway stopping"); });
    i.wait_closed(clock::now() + answer_grace);
  }
  i.stop();
}

std::uint16_t server::port() const {
  beast::error_code ec;
  return impl_->acceptor->local_endpoint(ec).port();
}

}  // namespace redis_gateway
