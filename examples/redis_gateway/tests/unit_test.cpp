// Unit tests of router, rate_limiter, config and base64: no server, no Asio.
#include <catch2/catch.hpp>

#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "base64.hpp"
#include "config.hpp"
#include "rate_limiter.hpp"
#include "router.hpp"
#include "support/counting_new.hpp"

using namespace redis_gateway;
using namespace std::chrono_literals;

TEST_CASE("router matches templates and decodes placeholders", "[router]") {
  router r;
  auto m = r.match("GET", "/redis/cache/get/user%3A1");
  REQUIRE(m.found());
  CHECK(m.route->path == "/redis/{instance}/get/{key}");
  CHECK(m.route->command == "GET");
  CHECK(m.params == http_routes::route_params{"cache", "user:1"});

  auto set = r.match("GET", "/redis/c/set/k/%00%ff%E2%82%AC");
  REQUIRE(set.found());
  CHECK(set.params.at(2) == std::string("\0\xff\xe2\x82\xac", 5));

  CHECK(r.match("POST", "/redis/cache").route->id == route_id::redis_command);
  CHECK(r.match("DELETE", "/api/organizations/7/api-keys/abc").params == http_routes::route_params{"7", "abc"});
}

TEST_CASE("matching a Redis path route allocates nothing but long values", "[router]") {
  router r;
  route_match m;
  CHECK(obs_test::allocations_in([&] { m = r.match("GET", "/redis/cache/hset/user%3A1/name/v"); }) == 0);
  CHECK(m.params == http_routes::route_params{"cache", "user:1", "name", "v"});
  // A value beyond a short string's room takes its one allocation: the
  // counter counts here.
  const std::string long_key(64, 'k'), path = "/redis/cache/get/" + long_key;
  CHECK(obs_test::allocations_in([&] { m = r.match("GET", path); }) == 1);
  CHECK(m.params.at(1) == long_key);
}

TEST_CASE("router reports unmatched, wrong methods and bad encoding", "[router]") {
  router r;
  CHECK(r.match("GET", "/").result == route_match::outcome::not_found);
  CHECK(r.match("GET", "/redis/cache/get").result == route_match::outcome::not_found);
  CHECK(r.match("GET", "/redis/cache/get/k/extra").result == route_match::outcome::not_found);
  CHECK(r.match("GET", "/redis//get/k").result == route_match::outcome::not_found);
  CHECK(r.match("GET", "/wp-login.php").result == route_match::outcome::not_found);

  auto wrong = r.match("PUT", "/api/organizations");
  CHECK(wrong.result == route_match::outcome::wrong_method);
  CHECK(wrong.route->path == "/api/organizations");
  CHECK(wrong.allow == "GET, HEAD, POST");
  CHECK(r.match("GET", "/redis/cache").allow == "POST");

  CHECK(r.match("GET", "/redis/c/get/%zz").result == route_match::outcome::bad_path);
  CHECK(r.match("GET", "/redis/c/get/abc%4").result == route_match::outcome::bad_path);
}

TEST_CASE("HEAD matches the GET routes and no others", "[router]") {
  router r;
  auto head = r.match("HEAD", "/redis/cache/get/k");
  REQUIRE(head.found());
  CHECK(head.route->method == "GET");
  CHECK(head.params == http_routes::route_params{"cache", "k"});
  CHECK(r.match("HEAD", "/health/live").found());
  auto post_only = r.match("HEAD", "/redis/cache");
  CHECK(post_only.result == route_match::outcome::wrong_method);
  CHECK(post_only.allow == "POST");
}

TEST_CASE("every template is unique per method", "[router]") {
  router r;
  std::map<std::pair<std::string_view, std::string_view>, int> seen;
  for (const auto& rt : r.routes()) CHECK(++seen[{rt.method, rt.path}] == 1);
}

TEST_CASE("GCRA passes a burst of rps, then one per interval", "[rate_limiter]") {
  rate_limiter lim(100);
  const auto t0 = rate_limiter::clock::now();
  int passed = 0;
  for (int i = 0; i < 200; ++i) passed += lim.check("k", std::nullopt, t0).allowed;
  CHECK(passed == 100);

  auto refused = lim.check("k", std::nullopt, t0);
  CHECK_FALSE(refused.allowed);
  CHECK(refused.retry_after == 10ms);
  CHECK(retry_after_seconds(refused.retry_after) == 1);

  CHECK_FALSE(lim.check("k", std::nullopt, t0 + 9ms).allowed);
  CHECK(lim.check("k", std::nullopt, t0 + 10ms).allowed);
  CHECK_FALSE(lim.check("k", std::nullopt, t0 + 10ms).allowed);
  // A full second later the whole burst is back.
  passed = 0;
  for (int i = 0; i < 200; ++i) passed += lim.check("k", std::nullopt, t0 + 1010ms).allowed;
  CHECK(passed == 100);
}

TEST_CASE("a custom quota applies per key", "[rate_limiter]") {
  rate_limiter lim(100);
  const auto t0 = rate_limiter::clock::now();
  int premium = 0, basic = 0;
  for (int i = 0; i < 2000; ++i) premium += lim.check("premium", 1000, t0).allowed;
  for (int i = 0; i < 200; ++i) basic += lim.check("basic", std::nullopt, t0).allowed;
  CHECK(premium == 1000);
  CHECK(basic == 100);
  CHECK(lim.check("one", 1, t0).allowed);
  auto d = lim.check("one", 1, t0);
  CHECK_FALSE(d.allowed);
  CHECK(retry_after_seconds(d.retry_after) == 1);
}

TEST_CASE("idle keys are swept without changing decisions; remove and clear", "[rate_limiter]") {
  rate_limiter lim(10);
  const auto t0 = rate_limiter::clock::now();
  for (int i = 0; i < 50; ++i) (void)lim.check("key" + std::to_string(i), std::nullopt, t0);
  CHECK(lim.size() == 50);
  CHECK(lim.sweep(t0 + 50ms) == 0);  // each TAT is t0 + 100 ms
  CHECK(lim.sweep(t0 + 100ms) == 50);
  CHECK(lim.size() == 0);

  for (int i = 0; i < 10; ++i) CHECK(lim.check("gone", std::nullopt, t0).allowed);
  CHECK_FALSE(lim.check("gone", std::nullopt, t0).allowed);
  lim.remove("gone");
  CHECK(lim.check("gone", std::nullopt, t0).allowed);
  lim.clear();
  CHECK(lim.size() == 0);
}

TEST_CASE("the limiter is thread-safe and exact under contention", "[rate_limiter]") {
  rate_limiter lim(1000);
  const auto t0 = rate_limiter::clock::now();
  std::atomic<int> passed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) passed += lim.check("shared", std::nullopt, t0).allowed;
    });
  for (auto& t : threads) t.join();
  CHECK(passed == 1000);
}

namespace {
config parse(std::vector<const char*> args, std::map<std::string, std::string> env = {}) {
  env.emplace("DATABASE_URL", "host=x");
  env.emplace("ADMIN_TOKEN", "t");
  args.insert(args.begin(), "redis_gateway");
  return parse_config(static_cast<int>(args.size()), args.data(), [&](const char* n) -> const char* {
    auto it = env.find(n);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}
}  // namespace

TEST_CASE("config reads the seed's variables, and flags win", "[config]") {
  config c = parse({});
  CHECK(c.rate_limit_default_rps == 100);
  CHECK(c.max_retry_attempts == 3);
  CHECK(c.retry_delay == 1000ms);
  CHECK(c.health_check_interval == 30s);
  CHECK(c.metrics_enabled);
  CHECK(c.listen.port == 3000);
  CHECK(!c.metrics_listen);
  CHECK(c.redis_timeout == 2000ms);
  CHECK(c.db_timeout == 2000ms);
  CHECK(c.health_timeout == 1000ms);
  CHECK(c.shutdown_timeout == 10s);
  CHECK(c.client_timeout == 30s);
  CHECK(c.io_threads == 1);
  CHECK(c.busy_poll == 0us);
  CHECK(!c.push.url);
  CHECK(c.push.interval == 15s);
  CHECK_FALSE(c.push.native_histograms);

  c = parse({"--remote-write-url", "http://127.0.0.1:9090/api/v1/write", "--remote-write-interval", "2s",
             "--remote-write-native-histograms", "true"});
  CHECK(c.push.url == "http://127.0.0.1:9090/api/v1/write");
  CHECK(c.push.interval == 2s);
  CHECK(c.push.native_histograms);

  c = parse({"--rate-limit-rps", "7", "--metrics-listen", "127.0.0.1:9464"},
            {{"RATE_LIMIT_DEFAULT_RPS", "500"}, {"METRICS_ENABLED", "false"}, {"HEALTH_CHECK_INTERVAL", "30s"},
             {"MAX_RETRY_ATTEMPTS", "5"}, {"RETRY_DELAY_MS", "250"}});
  CHECK(c.rate_limit_default_rps == 7);
  CHECK_FALSE(c.metrics_enabled);
  CHECK(c.max_retry_attempts == 5);
  CHECK(c.retry_delay == 250ms);
  REQUIRE(c.metrics_listen);
  CHECK(c.metrics_listen->port == 9464);

  c = parse({"--shutdown-timeout-ms", "0", "--health-timeout-ms", "250", "--db-timeout-ms", "5000",
             "--metrics-listen", ":9464", "--client-timeout-ms", "1500", "--busy-poll-us", "20", "--threads", "4"});
  CHECK(c.shutdown_timeout == 0ms);
  CHECK(c.busy_poll == 20us);
  CHECK(c.io_threads == 4);
  CHECK(c.client_timeout == 1500ms);
  CHECK(c.health_timeout == 250ms);
  CHECK(c.db_timeout == 5s);
  CHECK(c.metrics_listen->host == "127.0.0.1");  // the shared rule: a bare port is loopback
}

TEST_CASE("config refuses what does not parse", "[config]") {
  CHECK_THROWS_WITH(parse({"--listen", "nohost"}), "--listen: expected HOST:PORT, got \"nohost\"");
  CHECK_THROWS_AS(parse({"--listen", "h:70000"}), config_error);
  CHECK_THROWS_AS(parse({"--metrics-listen", "::1:80"}), config_error);
  CHECK_THROWS_AS(parse({"--health-timeout-ms", "0"}), config_error);
  CHECK_THROWS_AS(parse({"--client-timeout-ms", "50"}), config_error);
  CHECK_THROWS_AS(parse({"--redis-pool-size", "8"}), config_error);  // gone with the blocking pool
  CHECK_THROWS_AS(parse({"--rate-limit-rps", "0"}), config_error);
  CHECK_THROWS_AS(parse({"--remote-write-interval", "0s"}), config_error);
  CHECK_THROWS_AS(parse({"--bogus"}), config_error);
  CHECK_THROWS_AS(parse({"--threads"}), config_error);
  CHECK_THROWS_AS(parse({"--busy-poll-us", "-1"}), config_error);
  CHECK_THROWS_AS(parse({"--busy-poll-us", "1000001"}), config_error);
  CHECK_THROWS_AS(parse({}, {{"METRICS_ENABLED", "maybe"}}), config_error);
  CHECK_THROWS_WITH(parse_config(1, std::vector<const char*>{"x"}.data(), [](const char*) { return nullptr; }),
                    Catch::Contains("DATABASE_URL"));
  CHECK(parse_duration("500ms") == 500ms);
  CHECK(parse_duration("2m") == 120s);
  CHECK(parse_duration("30") == 30s);
  CHECK(parse({"--listen", "[::1]:80"}).listen.host == "::1");
}

TEST_CASE("base64 is RFC 4648's, with padding", "[base64]") {
  // RFC 4648 section 10.
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("f") == "Zg==");
  CHECK(base64_encode("fo") == "Zm8=");
  CHECK(base64_encode("foo") == "Zm9v");
  CHECK(base64_encode("foob") == "Zm9vYg==");
  CHECK(base64_encode("fooba") == "Zm9vYmE=");
  CHECK(base64_encode("foobar") == "Zm9vYmFy");
  CHECK(base64_encode(std::string("\0\xff\xfe", 3)) == "AP/+");
  CHECK(base64_encode("OK") == "T0s=");
}
