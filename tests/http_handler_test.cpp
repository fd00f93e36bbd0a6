#include "obs/http/handler.hpp"

#include <catch2/catch.hpp>

#include <future>
#include <latch>
#include <stdexcept>
#include <string>
#include <thread>

#include "http/client.hpp"
#include "http/recording_observer.hpp"

namespace bh = boost::beast::http;
using obs::http::error_cause;
using obs::http::format;
using obs::http::request;

namespace {

std::string body_for(format f) { return "body in " + std::string(obs::http::to_string(f)) + "\n"; }

request make_request(bh::verb method, std::string_view target,
                     std::initializer_list<std::pair<bh::field, std::string_view>> fields = {}) {
  request req{method, target, 11};
  for (const auto& [name, value] : fields) req.set(name, value);
  return req;
}

struct fixture {
  std::shared_ptr<obs_test::recording_observer> events = std::make_shared<obs_test::recording_observer>();
  obs::http::handler handler;

  explicit fixture(obs::http::options opts = {}) : handler(body_for, std::move(opts), events) {}
};

}  // namespace

TEST_CASE("GET /metrics negotiates the format") {
  fixture f;
  auto res = f.handler(make_request(bh::verb::get, "/metrics"));
  CHECK(res.result() == bh::status::ok);
  CHECK(res.body() == body_for(format::prometheus_text));
  CHECK(res[bh::field::content_type] == "text/plain; version=0.0.4; charset=utf-8");
  CHECK(res[bh::field::vary] == "Accept, Accept-Encoding");

  res = f.handler(make_request(bh::verb::get, "/metrics", {{bh::field::accept, "application/openmetrics-text"}}));
  CHECK(res.body() == body_for(format::openmetrics));
  CHECK(res[bh::field::content_type] == "application/openmetrics-text; version=1.0.0; charset=utf-8");

  res = f.handler(make_request(bh::verb::get, "/metrics", {{bh::field::accept, "application/json"}}));
  CHECK(res.body() == body_for(format::json));
  CHECK(res[bh::field::content_type] == "application/json");

  res = f.handler(make_request(bh::verb::get, "/metrics?format=json", {{bh::field::accept, "text/plain"}}));
  CHECK(res.body() == body_for(format::json));

  res = f.handler(make_request(bh::verb::get, "/metrics?x=1&format=openmetrics"));
  CHECK(res.body() == body_for(format::openmetrics));
  CHECK(f.events->scrapes() == 5);
}

TEST_CASE("bad format parameter is 400, refused Accept is 406") {
  fixture f;
  auto res = f.handler(make_request(bh::verb::get, "/metrics?format=xml"));
  CHECK(res.result() == bh::status::bad_request);
  CHECK(f.events->errors(error_cause::bad_request) == 1);
  res = f.handler(make_request(bh::verb::get, "/metrics", {{bh::field::accept, "text/plain;q=0"}}));
  CHECK(res.result() == bh::status::not_acceptable);
  CHECK(f.events->errors(error_cause::not_acceptable) == 1);
  CHECK(f.events->scrapes() == 0);
}

TEST_CASE("gzip when Accept-Encoding allows it") {
  fixture f;
  auto res = f.handler(make_request(bh::verb::get, "/metrics", {{bh::field::accept_encoding, "gzip, br"}}));
  CHECK(res[bh::field::content_encoding] == "gzip");
  CHECK(res[bh::field::content_length] == std::to_string(res.body().size()));
  CHECK(obs_test::gunzip(res.body()) == body_for(format::prometheus_text));

  res = f.handler(make_request(bh::verb::get, "/metrics", {{bh::field::accept_encoding, "gzip;q=0"}}));
  CHECK(res.find(bh::field::content_encoding) == res.end());
  CHECK(res.body() == body_for(format::prometheus_text));

  obs::http::options no_gzip;
  no_gzip.gzip = false;
  fixture g(no_gzip);
  res = g.handler(make_request(bh::verb::get, "/metrics", {{bh::field::accept_encoding, "gzip"}}));
  CHECK(res.find(bh::field::content_encoding) == res.end());
}

TEST_CASE("HEAD has GET's headers and no body") {
  fixture f;
  const auto get = f.handler(make_request(bh::verb::get, "/metrics"));
  const auto head = f.handler(make_request(bh::verb::head, "/metrics"));
  CHECK(head.result() == bh::status::ok);
  CHECK(head.body().empty());
  CHECK(head[bh::field::content_length] == std::to_string(get.body().size()));
  CHECK(head[bh::field::content_type] == get[bh::field::content_type]);
}

TEST_CASE("404 for unknown paths, 405 with Allow for wrong methods") {
  fixture f;
  auto res = f.handler(make_request(bh::verb::get, "/nope"));
  CHECK(res.result() == bh::status::not_found);
  res = f.handler(make_request(bh::verb::post, "/metrics"));
  CHECK(res.result() == bh::status::method_not_allowed);
  CHECK(res[bh::field::allow] == "GET, HEAD");
  res = f.handler(make_request(bh::verb::delete_, "/health"));
  CHECK(res.result() == bh::status::method_not_allowed);
  CHECK(f.events->errors(error_cause::not_found) == 1);
  CHECK(f.events->errors(error_cause::method_not_allowed) == 2);
  const auto responses = f.events->responses();
  REQUIRE(responses.size() == 3);
  CHECK(responses[0].route == "other");
  CHECK(responses[0].status == 404);
  CHECK(responses[1].route == "/metrics");
  CHECK(responses[1].status == 405);
}

TEST_CASE("application routes") {
  fixture f;
  f.handler.add_route("/metrics/queries", [](const request&) {
    return obs::http::json_response(R"({"slow":[]})");
  });
  f.handler.add_route("/admin/flush", [](const request& req) {
    return obs::http::make_response(bh::status::accepted, "flushed " + req.body());
  }, {bh::verb::post});
  f.handler.add_route("/boom", [](const request&) -> obs::http::response { throw std::runtime_error("x"); });

  auto res = f.handler(make_request(bh::verb::get, "/metrics/queries?limit=3"));
  CHECK(res.result() == bh::status::ok);
  CHECK(res.body() == R"({"slow":[]})");
  CHECK(res[bh::field::content_type] == "application/json");
  res = f.handler(make_request(bh::verb::head, "/metrics/queries"));
  CHECK(res.body().empty());
  CHECK(res[bh::field::content_length] == "11");

  request post = make_request(bh::verb::post, "/admin/flush");
  post.body() = "all";
  post.prepare_payload();
  res = f.handler(post);
  CHECK(res.result() == bh::status::accepted);
  CHECK(res.body() == "flushed all");
  res = f.handler(make_request(bh::verb::get, "/admin/flush"));
  CHECK(res.result() == bh::status::method_not_allowed);
  CHECK(res[bh::field::allow] == "POST");

  res = f.handler(make_request(bh::verb::get, "/boom"));
  CHECK(res.result() == bh::status::internal_server_error);
  CHECK(f.events->errors(error_cause::handler_failed) == 1);
  CHECK(f.events->responses().front().route == "/metrics/queries");
}

TEST_CASE("a throwing render is a 500") {
  obs::http::handler h([](format) -> std::string { throw std::runtime_error("snapshot failed"); });
  CHECK(h(make_request(bh::verb::get, "/metrics")).result() == bh::status::internal_server_error);
}

TEST_CASE("health probes answer JSON, 200 or 503") {
  fixture f;
  bool db_up = true;
  f.handler.health().add_check("database", [&] {
    return db_up ? obs::http::check_result::healthy("Database connection OK")
                 : obs::http::check_result::unhealthy("down");
  });
  auto res = f.handler(make_request(bh::verb::get, "/health"));
  CHECK(res.result() == bh::status::ok);
  CHECK(res[bh::field::content_type] == "application/json");
  CHECK(res.body().starts_with(R"({"status":"healthy")"));
  db_up = false;
  CHECK(f.handler(make_request(bh::verb::get, "/health")).result() == bh::status::service_unavailable);
  CHECK(f.handler(make_request(bh::verb::get, "/health/ready")).result() == bh::status::service_unavailable);
  CHECK(f.handler(make_request(bh::verb::get, "/health/live")).result() == bh::status::ok);
}

TEST_CASE("auth guards metrics and routes, probes only on request") {
  obs::http::options o;
  o.auth = obs::http::auth::bearer("s3cret");
  fixture f(o);
  auto res = f.handler(make_request(bh::verb::get, "/metrics"));
  CHECK(res.result() == bh::status::unauthorized);
  CHECK(res[bh::field::www_authenticate] == "Bearer realm=\"metrics\"");
  res = f.handler(make_request(bh::verb::get, "/nope"));
  CHECK(res.result() == bh::status::unauthorized);  // no path discovery without credentials
  res = f.handler(make_request(bh::verb::get, "/metrics", {{bh::field::authorization, "Bearer wrong"}}));
  CHECK(res.result() == bh::status::unauthorized);
  res = f.handler(make_request(bh::verb::get, "/metrics", {{bh::field::authorization, "Bearer s3cret"}}));
  CHECK(res.result() == bh::status::ok);
  CHECK(f.handler(make_request(bh::verb::get, "/health/live")).result() == bh::status::ok);
  CHECK(f.events->errors(error_cause::unauthorized) == 3);

  o.auth_health = true;
  fixture g(o);
  CHECK(g.handler(make_request(bh::verb::get, "/health/live")).result() == bh::status::unauthorized);
}

TEST_CASE("renders beyond max_inflight_scrapes get 503") {
  obs::http::options o;
  o.max_inflight_scrapes = 1;
  std::latch entered(1);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  auto events = std::make_shared<obs_test::recording_observer>();
  obs::http::handler h(
      [&](format) {
        entered.count_down();
        released.wait();
        return std::string("x 1\n");
      },
      o, events);
  auto first = std::async(std::launch::async, [&] { return h(make_request(bh::verb::get, "/metrics")); });
  entered.wait();
  const auto refused = h(make_request(bh::verb::get, "/metrics"));
  CHECK(refused.result() == bh::status::service_unavailable);
  CHECK(refused[bh::field::retry_after] == "1");
  CHECK(events->errors(error_cause::scrape_limit) == 1);
  release.set_value();
  CHECK(first.get().result() == bh::status::ok);
  // The slot is free again.
  CHECK(h(make_request(bh::verb::get, "/metrics")).result() == bh::status::ok);
}

TEST_CASE("keep-alive and version follow the request") {
  fixture f;
  request req = make_request(bh::verb::get, "/metrics");
  CHECK(f.handler(req).keep_alive());
  req.keep_alive(false);
  CHECK_FALSE(f.handler(req).keep_alive());
  request old{bh::verb::get, "/metrics", 10};
  const auto res = f.handler(old);
  CHECK(res.version() == 10);
  CHECK_FALSE(res.keep_alive());
}

TEST_CASE("begin answers probes and errors at once, leaves renders and routes to finish") {
  int renders = 0, routed = 0;
  obs::http::handler h([&](format f) {
    ++renders;
    return body_for(f);
  });
  h.add_route("/r", [&](const request&) {
    ++routed;
    return obs::http::json_response("{}");
  });
  for (std::string_view path : {"/health/live", "/health/ready", "/health", "/nope"}) {
    INFO(path);
    const request req = make_request(bh::verb::get, path);
    auto ex = h.begin(req);
    CHECK_FALSE(ex.blocks());
    CHECK(ex.finish().result() == (path == "/nope" ? bh::status::not_found : bh::status::ok));
  }
  const request bad = make_request(bh::verb::get, "/metrics", {{bh::field::accept, "text/plain;q=0"}});
  auto refused = h.begin(bad);
  CHECK_FALSE(refused.blocks());
  CHECK(refused.finish().result() == bh::status::not_acceptable);

  const request scrape = make_request(bh::verb::get, "/metrics");
  auto ex = h.begin(scrape);
  CHECK(ex.blocks());
  CHECK(renders == 0);
  const auto res = ex.finish();
  CHECK(renders == 1);
  CHECK(res.body() == body_for(format::prometheus_text));
  CHECK(res.keep_alive());

  const request route = make_request(bh::verb::head, "/r");
  auto routed_ex = h.begin(route);
  CHECK(routed_ex.blocks());
  CHECK(routed == 0);
  const auto head = routed_ex.finish();
  CHECK(routed == 1);
  CHECK(head.body().empty());
  CHECK(head[bh::field::content_length] == "2");
}

TEST_CASE("a scrape holds its slot from begin until finish or until dropped") {
  obs::http::options o;
  o.max_inflight_scrapes = 1;
  obs::http::handler h(body_for, o);
  const request req = make_request(bh::verb::get, "/metrics");
  auto first = h.begin(req);
  CHECK(h(req).result() == bh::status::service_unavailable);
  CHECK(first.finish().result() == bh::status::ok);
  CHECK(h(req).result() == bh::status::ok);
  { auto dropped = h.begin(req); }
  auto moved = h.begin(req);
  auto to = std::move(moved);
  CHECK(h(req).result() == bh::status::service_unavailable);  // the slot moved with it
  CHECK(to.finish().result() == bh::status::ok);
  CHECK(h(req).result() == bh::status::ok);
}
