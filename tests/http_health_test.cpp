#include "obs/http/health.hpp"

#include <catch2/catch.hpp>

#include <cctype>
#include <stdexcept>
#include <string>

#include "obs/detail/utf8.hpp"

using obs::http::check_result;
using obs::http::criticality;
using obs::http::health_status;

namespace {

// Whether `s` is `YYYY-MM-DDTHH:MM:SSZ`.
bool is_rfc3339_utc(std::string_view s) {
  constexpr std::string_view shape = "dddd-dd-ddTdd:dd:ddZ";
  if (s.size() != shape.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i)
    if (shape[i] == 'd' ? !std::isdigit(static_cast<unsigned char>(s[i])) : s[i] != shape[i]) return false;
  return true;
}

// The string value of `"key":"..."` in `json`, or "" when absent.
std::string_view string_field(std::string_view json, std::string_view key) {
  const std::string needle = "\"" + std::string(key) + "\":\"";
  const std::size_t at = json.find(needle);
  if (at == std::string_view::npos) return {};
  const std::size_t begin = at + needle.size();
  return json.substr(begin, json.find('"', begin) - begin);
}

// Whether `json` has `"key":<digits>` directly followed by `after`.
bool has_integer_field(std::string_view json, std::string_view key, char after) {
  const std::string needle = "\"" + std::string(key) + "\":";
  const std::size_t at = json.find(needle);
  if (at == std::string_view::npos) return false;
  std::size_t i = at + needle.size();
  const std::size_t digits_begin = i;
  while (i < json.size() && std::isdigit(static_cast<unsigned char>(json[i]))) ++i;
  return i > digits_begin && i < json.size() && json[i] == after;
}

}  // namespace

TEST_CASE("no checks: healthy, with the documented shape") {
  obs::http::health h;
  const auto r = h.check();
  CHECK(r.ok);
  CHECK(r.status == health_status::healthy);
  CHECK(r.body.starts_with(R"({"status":"healthy","timestamp":")"));
  CHECK(is_rfc3339_utc(string_field(r.body, "timestamp")));
  CHECK(has_integer_field(r.body, "uptime_seconds", ','));
  CHECK(r.body.ends_with(R"(,"components":{}})"));
}

TEST_CASE("components report status, message and response time") {
  obs::http::health h;
  h.add_check("database", [] { return check_result::healthy("Database connection OK"); });
  const auto r = h.check();
  CHECK(r.ok);
  CHECK(r.body.find(R"("components":{"database":{"status":"healthy","message":"Database connection OK",)"
                    R"("response_time_ms":)") != std::string::npos);
  CHECK(has_integer_field(r.body, "response_time_ms", '}'));
  CHECK(r.body.ends_with("}}}"));
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
  CHECK(r.body.starts_with(R"({"status":"ready","timestamp":")"));
  CHECK(is_rfc3339_utc(string_field(r.body, "timestamp")));
  CHECK(r.body.ends_with("Z\"}"));

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

TEST_CASE("invalid UTF-8 in a check's name or message becomes U+FFFD, so /health stays JSON") {
  obs::http::health h;
  h.add_check("db\xc0", [] { return check_result::unhealthy("\xff\xfe bad"); });
  h.add_check("queue", []() -> check_result { throw std::runtime_error("cut \xe2\x82"); });
  const auto r = h.check();
  CHECK(obs::detail::is_valid_utf8(r.body));
  CHECK(r.body.find("\"db\xef\xbf\xbd\":{") != std::string::npos);
  CHECK(r.body.find("\"message\":\"\xef\xbf\xbd\xef\xbf\xbd bad\"") != std::string::npos);
  CHECK(r.body.find("\"message\":\"cut \xef\xbf\xbd\xef\xbf\xbd\"") != std::string::npos);
}

TEST_CASE("valid UTF-8 passes through unchanged") {
  std::string out;
  obs::http::detail::append_json_string(out, "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x90\x98");
  CHECK(out == "\"caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x90\x98\"");
  out.clear();
  // An overlong slash and a UTF-16 surrogate are not UTF-8 (RFC 3629).
  obs::http::detail::append_json_string(out, "\xc0\xaf \xed\xa0\x80");
  CHECK(obs::detail::is_valid_utf8(out));
  CHECK(out.find('/') == std::string::npos);
}
