#include "obs/http/server.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "http/client.hpp"
#include "http/recording_observer.hpp"

// Hostile and careless clients, then proof the server still scrapes.

namespace bh = boost::beast::http;
using obs::http::format;
using obs_test::connection;

namespace {

std::string big_body(format) {
  std::string s;
  for (int i = 0; i < 20000; ++i) s += "load_total{i=\"" + std::to_string(i) + "\"} 1\n";
  return s;
}

obs::http::options hardened() {
  obs::http::options o;
  o.port = 0;
  o.threads = 2;
  o.max_connections = 512;
  o.header_timeout = std::chrono::milliseconds(300);
  o.idle_timeout = std::chrono::milliseconds(1000);
  o.write_timeout = std::chrono::milliseconds(1000);
  return o;
}

void still_healthy(obs::http::server& srv) {
  connection c(srv.port());
  const auto res = c.get("/metrics");
  REQUIRE(res.result() == bh::status::ok);
  CHECK(res.body() == big_body(format::prometheus_text));
  CHECK(c.get("/health").result() == bh::status::ok);
}

}  // namespace

TEST_CASE("survives hostile and careless clients") {
  auto events = std::make_shared<obs_test::recording_observer>();
  obs::http::server srv(big_body, hardened(), events);
  srv.start();

  SECTION("garbage bytes") {
    std::mt19937 rng(42);
    for (int i = 0; i < 20; ++i) {
      connection c(srv.port());
      std::string junk(512, '\0');
      for (char& ch : junk) ch = static_cast<char>(rng());
      c.send_raw(junk);
      // Garbage is answered with 400 or dropped; either way the connection ends.
      CHECK(c.closed_by_peer());
    }
    still_healthy(srv);
  }

  SECTION("requests that never finish their headers") {
    std::vector<std::unique_ptr<connection>> slow;
    for (int i = 0; i < 20; ++i) {
      slow.push_back(std::make_unique<connection>(srv.port()));
      slow.back()->send_raw("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Drip: a");
    }
    still_healthy(srv);  // served while the slow ones are pending
    for (auto& c : slow) CHECK(c->closed_by_peer());
    CHECK(events->wait_for_errors(obs::http::error_cause::timeout, 20));
    CHECK(events->errors(obs::http::error_cause::timeout) == 20);
  }

  SECTION("an oversized header") {
    connection c(srv.port());
    c.send_raw("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Huge: " + std::string(64 * 1024, 'h') + "\r\n\r\n");
    CHECK(c.read_reply().result() == bh::status::request_header_fields_too_large);
    CHECK(c.closed_by_peer());
    still_healthy(srv);
  }

  SECTION("hundreds of concurrent connections") {
    constexpr int clients = 8;
    constexpr int per_client = 40;
    std::atomic<int> ok{0};
    std::vector<std::thread> threads;
    std::vector<std::unique_ptr<connection>> held;
    // Hold some connections open idle while others scrape.
    for (int i = 0; i < 200; ++i) held.push_back(std::make_unique<connection>(srv.port()));
    for (int t = 0; t < clients; ++t)
      threads.emplace_back([&] {
        for (int i = 0; i < per_client; ++i) {
          connection c(srv.port());
          if (c.get("/health/live").result() == bh::status::ok) ++ok;
        }
      });
    for (auto& t : threads) t.join();
    CHECK(ok == clients * per_client);
    held.clear();
    still_healthy(srv);
  }

  SECTION("clients that disconnect mid-response") {
    for (int i = 0; i < 30; ++i) {
      connection c(srv.port());
      c.send_raw("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
      char first[100];
      c.socket().read_some(boost::asio::buffer(first));
      // Reset rather than FIN, so the server's write fails mid-body.
      c.socket().set_option(boost::asio::socket_base::linger(true, 0));
      c.socket().close();
    }
    still_healthy(srv);
  }

  srv.stop();
}
