#include "obs/http/server.hpp"

#include <catch2/catch.hpp>

#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <thread>

#include "http/client.hpp"
#include "http/recording_observer.hpp"
#include "obs/http/handler.hpp"

namespace bh = boost::beast::http;
using obs::http::error_cause;
using obs::http::format;
using obs_test::connection;

namespace {

// Big enough that gzip has something to do.
std::string body_for(format f) {
  std::string s = "# format " + std::string(obs::http::to_string(f)) + "\n";
  for (int i = 0; i < 2000; ++i) s += "series_total{i=\"" + std::to_string(i) + "\"} " + std::to_string(i * 7) + "\n";
  return s;
}

obs::http::options test_options() {
  obs::http::options o;
  o.port = 0;
  return o;
}

// Holds renders until the test opens it, so "while a scrape renders" is an
// order of events rather than a race against a clock.
class gate {
 public:
  void open() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    changed_.notify_all();
  }
  // Counts a render in, then holds it. Bounded, so a server that is wrong
  // fails the test instead of hanging it.
  void enter_and_wait() {
    std::unique_lock lock(mutex_);
    ++entered_;
    changed_.notify_all();
    changed_.wait_for(lock, std::chrono::seconds(30), [&] { return open_; });
  }
  int entered() {
    std::lock_guard lock(mutex_);
    return entered_;
  }
  // Whether `n` renders have come in; false after 10 s.
  bool wait_for_entered(int n) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(10), [&] { return entered_ >= n; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool open_ = false;
  int entered_ = 0;
};

// Opens the gate when a test case ends, however it ends, so held renders
// return and the server can stop.
struct open_at_exit {
  gate& g;
  ~open_at_exit() { g.open(); }
};

struct running {
  std::shared_ptr<obs_test::recording_observer> events = std::make_shared<obs_test::recording_observer>();
  obs::http::server server;

  explicit running(obs::http::options o = test_options()) : server(body_for, std::move(o), events) {
    server.start();
  }
  std::uint16_t port() const { return server.port(); }
};

}  // namespace

TEST_CASE("binds loopback on an ephemeral port") {
  running r;
  CHECK(r.port() != 0);
  connection c(r.port());
  CHECK(c.socket().remote_endpoint().address().to_string() == "127.0.0.1");
  CHECK(c.get("/metrics").result() == bh::status::ok);
}

TEST_CASE("negotiation matrix over the wire") {
  running r;
  connection c(r.port());
  struct row {
    std::string_view accept;
    format expected;
  };
  const row rows[] = {
      {"", format::prometheus_text},
      {"text/plain;version=0.0.4", format::prometheus_text},
      {"application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
       "text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
       format::openmetrics},
      {"application/openmetrics-text;q=0.2, text/plain;q=0.3", format::prometheus_text},
      {"application/json", format::json},
      {"*/*", format::prometheus_text},
      {"application/*", format::openmetrics},
      {"application/openmetrics-text;q=0, text/plain;q=0, */*;q=0.5", format::json},
  };
  for (const row& x : rows) {
    INFO("Accept: " << x.accept);
    const auto res = x.accept.empty() ? c.get("/metrics") : c.get("/metrics", {{"Accept", x.accept}});
    CHECK(res.result() == bh::status::ok);
    CHECK(res[bh::field::content_type] == obs::http::content_type(x.expected));
    CHECK(res.body() == body_for(x.expected));
  }
  const auto json = c.get("/metrics?format=json");
  CHECK(json[bh::field::content_type] == "application/json");
  CHECK(json.body() == body_for(format::json));
  CHECK(c.get("/metrics", {{"Accept", "text/plain;q=0"}}).result() == bh::status::not_acceptable);
}

TEST_CASE("gzip round trip over the wire") {
  running r;
  connection c(r.port());
  for (format f : {format::prometheus_text, format::openmetrics, format::json}) {
    const auto res = c.get("/metrics?format=" + std::string(obs::http::to_string(f)),
                           {{"Accept-Encoding", "gzip, deflate"}});
    REQUIRE(res[bh::field::content_encoding] == "gzip");
    CHECK(res.body().size() < body_for(f).size() / 3);
    CHECK(obs_test::gunzip(res.body()) == body_for(f));
  }
  const auto plain = c.get("/metrics", {{"Accept-Encoding", "gzip;q=0, identity"}});
  CHECK(plain.find(bh::field::content_encoding) == plain.end());
  CHECK(plain.body() == body_for(format::prometheus_text));
}

TEST_CASE("keep-alive serves many requests on one connection; Connection: close closes") {
  running r;
  connection c(r.port());
  for (int i = 0; i < 5; ++i) {
    const auto res = c.get("/metrics");
    CHECK(res.result() == bh::status::ok);
    CHECK(res.keep_alive());
  }
  CHECK(r.server.connections() == 1);
  const auto last = c.get("/health/live", {{"Connection", "close"}});
  CHECK(last.result() == bh::status::ok);
  CHECK_FALSE(last.keep_alive());
  CHECK(c.closed_by_peer());
}

TEST_CASE("HEAD over the wire keeps the connection usable") {
  running r;
  connection c(r.port());
  const auto head = c.request(bh::verb::head, "/metrics");
  CHECK(head.result() == bh::status::ok);
  CHECK(head[bh::field::content_length] == std::to_string(body_for(format::prometheus_text).size()));
  CHECK(head.body().empty());
  // Had the server sent a body after HEAD's headers, this would read garbage.
  CHECK(c.get("/health/live").result() == bh::status::ok);
}

TEST_CASE("404, 405, 431, 413 and 400 over the wire") {
  obs::http::options o = test_options();
  o.max_header_bytes = 1024;
  o.max_body_bytes = 100;
  running r(o);
  r.server.handler().add_route("/echo", [](const obs::http::request& req) {
    return obs::http::make_response(bh::status::ok, req.body());
  }, {bh::verb::post});
  {
    connection c(r.port());
    CHECK(c.get("/missing").result() == bh::status::not_found);
    const auto res = c.request(bh::verb::put, "/metrics");
    CHECK(res.result() == bh::status::method_not_allowed);
    CHECK(res[bh::field::allow] == "GET, HEAD");
    CHECK(c.request(bh::verb::post, "/echo", {}, "hello").body() == "hello");
  }
  {
    connection c(r.port());
    const std::string big(2048, 'a');
    const auto res = c.get("/metrics", {{"X-Big", big}});
    CHECK(res.result() == bh::status::request_header_fields_too_large);
    CHECK_FALSE(res.keep_alive());
    CHECK(c.closed_by_peer());
  }
  {
    connection c(r.port());
    const auto res = c.request(bh::verb::post, "/echo", {}, std::string(1000, 'b'));
    CHECK(res.result() == bh::status::payload_too_large);
    CHECK(c.closed_by_peer());
  }
  {
    connection c(r.port());
    c.send_raw("GET /metrics HTTP/1.1\r\nHost: x\r\nBad Header Without Colon\r\n\r\n");
    CHECK(c.read_reply().result() == bh::status::bad_request);
    CHECK(c.closed_by_peer());
  }
  CHECK(r.events->errors(error_cause::header_too_large) == 1);
  CHECK(r.events->errors(error_cause::body_too_large) == 1);
  CHECK(r.events->errors(error_cause::bad_request) == 1);
}

TEST_CASE("health transitions over the wire") {
  running r;
  bool db_up = true;
  std::mutex m;
  r.server.health().add_check("database", [&] {
    std::lock_guard lock(m);
    return db_up ? obs::http::check_result::healthy("Database connection OK")
                 : obs::http::check_result::unhealthy("connection refused");
  });
  bool cache_up = true;
  r.server.health().add_check("cache", [&] {
    std::lock_guard lock(m);
    return cache_up ? obs::http::check_result::healthy() : obs::http::check_result::unhealthy("evicted");
  }, obs::http::criticality::optional);
  connection c(r.port());
  auto res = c.get("/health");
  CHECK(res.result() == bh::status::ok);
  CHECK(res.body().starts_with(R"({"status":"healthy")"));
  CHECK(c.get("/health/ready").body().starts_with(R"({"status":"ready")"));

  { std::lock_guard lock(m); cache_up = false; }
  res = c.get("/health");
  CHECK(res.result() == bh::status::ok);
  CHECK(res.body().starts_with(R"({"status":"degraded")"));

  { std::lock_guard lock(m); db_up = false; }
  res = c.get("/health");
  CHECK(res.result() == bh::status::service_unavailable);
  CHECK(res.body().starts_with(R"({"status":"unhealthy")"));
  CHECK(c.get("/health/ready").result() == bh::status::service_unavailable);
  CHECK(c.get("/health/live").result() == bh::status::ok);

  { std::lock_guard lock(m); db_up = cache_up = true; }
  r.server.health().set_ready(false);
  res = c.get("/health/ready");
  CHECK(res.result() == bh::status::service_unavailable);
  CHECK(res.body().starts_with(R"({"status":"not_ready")"));
  r.server.health().set_ready(true);
  CHECK(c.get("/health/ready").result() == bh::status::ok);
}

TEST_CASE("basic auth over the wire") {
  obs::http::options o = test_options();
  o.auth = obs::http::auth::basic("prom", "pw");
  running r(o);
  connection c(r.port());
  auto res = c.get("/metrics");
  CHECK(res.result() == bh::status::unauthorized);
  CHECK(res[bh::field::www_authenticate].starts_with("Basic realm="));
  res = c.get("/metrics", {{"Authorization", "Basic " + obs::http::detail::base64("prom:pw")}});
  CHECK(res.result() == bh::status::ok);
  CHECK(c.get("/health").result() == bh::status::ok);
}

TEST_CASE("connections over the cap get 503") {
  obs::http::options o = test_options();
  o.max_connections = 2;
  running r(o);
  connection a(r.port()), b(r.port());
  // Each answered request proves the server has accepted and counted it.
  CHECK(a.get("/health/live").result() == bh::status::ok);
  CHECK(b.get("/health/live").result() == bh::status::ok);
  connection c(r.port());
  const auto res = c.read_reply();
  CHECK(res.result() == bh::status::service_unavailable);
  CHECK(res[bh::field::retry_after] == "1");
  CHECK(r.events->errors(error_cause::connection_limit) == 1);
  CHECK(a.get("/metrics").result() == bh::status::ok);
}

TEST_CASE("header timeout closes a request that never finishes") {
  obs::http::options o = test_options();
  o.header_timeout = std::chrono::milliseconds(200);
  running r(o);
  connection c(r.port());
  c.send_raw("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ");
  CHECK(c.closed_by_peer());
  CHECK(r.events->wait_for_errors(error_cause::timeout, 1));
  CHECK(r.events->errors(error_cause::timeout) == 1);
  CHECK(connection(r.port()).get("/metrics").result() == bh::status::ok);
}

TEST_CASE("idle keep-alive connections are closed after idle_timeout") {
  obs::http::options o = test_options();
  o.idle_timeout = std::chrono::milliseconds(200);
  running r(o);
  connection c(r.port());
  CHECK(c.get("/metrics").result() == bh::status::ok);
  CHECK(c.closed_by_peer());
  r.server.stop();  // joins the I/O threads: every handler has run
  // An idle close is routine, not an error.
  CHECK(r.events->errors(error_cause::timeout) == 0);
}

TEST_CASE("stop closes open connections and returns") {
  auto r = std::make_unique<running>();
  connection c(r->port());
  CHECK(c.get("/metrics").result() == bh::status::ok);
  r->server.stop();
  CHECK(c.closed_by_peer());
  r.reset();  // destroying a stopped server is fine
}

TEST_CASE("runs on a caller's io_context") {
  boost::asio::io_context ioc;
  auto work = boost::asio::make_work_guard(ioc);
  std::thread t([&] { ioc.run(); });
  {
    auto h = std::make_shared<obs::http::handler>(body_for, test_options());
    obs::http::server srv(ioc, h);
    srv.start();
    connection c(srv.port());
    CHECK(c.get("/metrics").body() == body_for(format::prometheus_text));
    srv.stop();
    CHECK(c.closed_by_peer());
  }
  work.reset();
  t.join();  // returns only if the server left no work behind
}

TEST_CASE("probes answer while a scrape is rendering") {
  gate held;
  std::atomic<bool> rendered{false};
  // One I/O thread, the default: the one a render used to occupy.
  obs::http::server srv(
      [&](format) {
        held.enter_and_wait();
        rendered = true;
        return std::string("slow_total 1\n");
      },
      test_options());
  srv.start();
  auto scrape = std::async(std::launch::async, [&] { return connection(srv.port(), 30).get("/metrics"); });
  open_at_exit release{held};  // declared after `scrape`: opens before waiting for it
  REQUIRE(held.wait_for_entered(1));

  connection probe(srv.port());
  for (std::string_view path : {"/health/live", "/health/ready", "/health"}) {
    INFO(path);
    CHECK(probe.get(path).result() == bh::status::ok);
  }
  // Answered while the render was still held, i.e. before the scrape completed.
  CHECK_FALSE(rendered.load());
  held.open();
  const auto res = scrape.get();
  CHECK(res.result() == bh::status::ok);
  CHECK(res.body() == "slow_total 1\n");
  CHECK(rendered.load());
}

TEST_CASE("render_threads renders that many scrapes at once") {
  gate held;
  obs::http::options o = test_options();
  o.render_threads = 2;
  obs::http::server srv(
      [&](format) {
        held.enter_and_wait();
        return std::string("x 1\n");
      },
      o);
  srv.start();
  auto a = std::async(std::launch::async, [&] { return connection(srv.port(), 30).get("/metrics"); });
  auto b = std::async(std::launch::async, [&] { return connection(srv.port(), 30).get("/metrics"); });
  open_at_exit release{held};
  CHECK(held.wait_for_entered(2));
  held.open();
  CHECK(a.get().result() == bh::status::ok);
  CHECK(b.get().result() == bh::status::ok);
}

TEST_CASE("scrapes waiting for a render thread count against max_inflight_scrapes") {
  gate held;
  obs::http::options o = test_options();
  o.render_threads = 1;
  o.max_inflight_scrapes = 2;
  auto events = std::make_shared<obs_test::recording_observer>();
  obs::http::server srv(
      [&](format) {
        held.enter_and_wait();
        return std::string("x 1\n");
      },
      o, events);
  srv.start();
  auto get = [&] { return connection(srv.port(), 30).get("/metrics"); };
  auto rendering = std::async(std::launch::async, get);
  open_at_exit release{held};
  REQUIRE(held.wait_for_entered(1));
  // One of these waits for the render thread, the other is one too many; the
  // server may read them in either order.
  auto b = std::async(std::launch::async, get);
  auto c = std::async(std::launch::async, get);
  REQUIRE(events->wait_for_errors(error_cause::scrape_limit, 1));
  held.open();
  CHECK(rendering.get().result() == bh::status::ok);
  const auto rb = b.get(), rc = c.get();
  CHECK((rb.result() == bh::status::ok) != (rc.result() == bh::status::ok));
  const auto& refused = rb.result() == bh::status::ok ? rc : rb;
  CHECK(refused.result() == bh::status::service_unavailable);
  CHECK(refused[bh::field::retry_after] == "1");
}

TEST_CASE("stop waits for the render it cannot interrupt, not for those queued") {
  gate held;
  obs::http::options o = test_options();
  o.max_inflight_scrapes = 2;
  auto events = std::make_shared<obs_test::recording_observer>();
  auto srv = std::make_unique<obs::http::server>(
      [&](format) {
        held.enter_and_wait();
        return std::string("x 1\n");
      },
      o, events);
  srv->start();
  open_at_exit release{held};
  connection a(srv->port(), 30), b(srv->port(), 30), c(srv->port(), 30);
  a.send_raw("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  REQUIRE(held.wait_for_entered(1));
  b.send_raw("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  c.send_raw("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  // One of b and c was refused, so the other is queued behind a's render.
  REQUIRE(events->wait_for_errors(error_cause::scrape_limit, 1));
  std::thread stopper([&] { srv->stop(); });
  // a's connection closing shows stop() has begun, before the render ends.
  CHECK(a.closed_by_peer());
  held.open();
  stopper.join();
  CHECK(held.entered() == 1);  // the queued scrape was dropped, not rendered
  CHECK(b.closed_by_peer());
  CHECK(c.closed_by_peer());
}
