#include "obs/http/health.hpp"

#include <catch2/catch.hpp>

#include <regex>
#include <stdexcept>
#include <string>

using obs::http::check_result;
using obs::http::criticality;
using obs::http::health_status;

TEST_CASE("no checks: healthy, with the documented shape") {
  obs::http::health h;
  const auto r = h.check();
  CHECK(r.ok);
  CHECK(r.status == health_status::healthy);
  CHECK(std::regex_match(
      r.body, std::regex(R"(\{"status":"healthy","timestamp":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ",)"
                         R"("uptime_seconds":\d+,"components":\{\}\})")));
}

TEST_CASE("components report status, message and response time") {
  obs::http::health h;
  h.add_check("database", [] { return check_result::healthy("Database connection OK"); });
  const auto r = h.check();
  CHECK(r.ok);
  CHECK(std::regex_search(r.body, std::regex(R"("components":\{"database":\{"status":"healthy",)"
                                             R"("message":"Database connection OK","response_time_ms":\d+\}\})")));
}

TEST_CASE("degraded and unhealthy follow criticality") {
  obs::http::health h;
  check_result db = check_result::healthy("ok");
  check_result cache = check_result::healthy("ok");
  h.add_check("database", [&] { return db; });
  h.add_check("cache", [&] { return cache; }, criticality::optional);

  cache = check_result::unhealthy("cache down");
  auto r = h.check();
  CHECK(r.status == health_status::degraded);
  CHECK(r.ok);
  CHECK(r.body.find(R"("status":"degraded")") == 1);

  cache = check_result::healthy("ok");
  db = check_result::degraded("slow");
  r = h.check();
  CHECK(r.status == health_status::degraded);
  CHECK(r.ok);

  db = check_result::unhealthy("no connection");
  r = h.check();
  CHECK(r.status == health_status::unhealthy);
  CHECK_FALSE(r.ok);
  CHECK(r.body.find(R"("database":{"status":"unhealthy","message":"no connection")") != std::string::npos);

  db = check_result::healthy("ok");
  CHECK(h.check().status == health_status::healthy);
}

TEST_CASE("a throwing check is unhealthy with its message, escaped") {
  obs::http::health h;
  h.add_check("queue", []() -> check_result { throw std::runtime_error("broker said \"no\"\n"); });
  const auto r = h.check();
  CHECK_FALSE(r.ok);
  CHECK(r.body.find(R"("message":"broker said \"no\"\n")") != std::string::npos);
}

TEST_CASE("readiness needs the flag and no critical failure") {
  obs::http::health h;
  bool db_up = true;
  h.add_check("database", [&] { return db_up ? check_result::healthy() : check_result::unhealthy("down"); });
  auto r = h.readiness();
  CHECK(r.ok);
  CHECK(std::regex_match(r.body, std::regex(R"(\{"status":"ready","timestamp":"[0-9T:Z-]+"\})")));

  h.set_ready(false);
  r = h.readiness();
  CHECK_FALSE(r.ok);
  CHECK(r.body.find(R"("status":"not_ready")") != std::string::npos);

  h.set_ready(true);
  db_up = false;
  CHECK_FALSE(h.readiness().ok);
  CHECK(h.live().ok);  // liveness ignores dependencies
  CHECK(h.live().body.find(R"("status":"alive")") != std::string::npos);
}

TEST_CASE("JSON escaping of control characters") {
  std::string out;
  obs::http::detail::append_json_string(out, std::string("a\x01\\b\t", 5));
  CHECK(out == R"("a\u0001\\b\t")");
}
