// http_routes: templates match whole paths segment by segment, placeholders
// capture one non-empty segment each, percent-decoded, and malformed escapes
// are told apart from paths that do not fit.
#include "http_routes/route_template.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace http_routes;
using outcome = route_template::outcome;

namespace {

outcome match(const route_template& t, std::string_view path, route_params& params) {
  return t.match(split_path(path), params);
}

}  // namespace

TEST_CASE("split_path and path_of", "[http_routes]") {
  CHECK(split_path("/a/b") == path_segments{"a", "b"});
  CHECK(split_path("/a/") == path_segments{"a", ""});
  CHECK(split_path("/") == path_segments{""});
  CHECK(split_path("").empty());
  CHECK(split_path("a/b").empty());
  CHECK(path_of("/a/b?x=1&y=2") == "/a/b");
  CHECK(path_of("/a/b") == "/a/b");
}

TEST_CASE("literal templates match themselves only", "[http_routes]") {
  const route_template t("/health/live");
  route_params params{"stale"};
  CHECK(t.pattern() == "/health/live");
  CHECK(match(t, "/health/live", params) == outcome::matched);
  CHECK(params.empty());
  for (const char* miss : {"/health", "/health/live/", "/health/Live", "/health/live/x", "health/live", "/", ""})
    CHECK(match(t, miss, params) == outcome::no_match);
}

TEST_CASE("placeholders capture one non-empty segment each, decoded", "[http_routes]") {
  const route_template t("/redis/{instance}/get/{key}");
  route_params params;
  REQUIRE(match(t, "/redis/cache/get/user%3A1", params) == outcome::matched);
  CHECK(params == route_params{"cache", "user:1"});
  REQUIRE(match(t, "/redis/c/get/a%2Fb+c%00d", params) == outcome::matched);
  CHECK(params == route_params{"c", std::string("a/b+c\0d", 7)});
  CHECK(match(t, "/redis//get/k", params) == outcome::no_match);
  CHECK(match(t, "/redis/c/get/", params) == outcome::no_match);
  CHECK(match(t, "/redis/c/set/k", params) == outcome::no_match);
  CHECK(match(t, "/redis/c/get/k/extra", params) == outcome::no_match);
  CHECK(params.empty());
}

TEST_CASE("malformed escapes in a fitting path are bad_escape", "[http_routes]") {
  const route_template t("/rooms/{room}/messages");
  route_params params{"stale"};
  CHECK(match(t, "/rooms/%zz/messages", params) == outcome::bad_escape);
  CHECK(params.empty());
  CHECK(match(t, "/rooms/abc%4/messages", params) == outcome::bad_escape);
  CHECK(match(t, "/rooms/%/messages", params) == outcome::bad_escape);
  // A literal segment is compared raw, so an escape there simply does not fit.
  CHECK(match(t, "/rooms/x/messag%zz", params) == outcome::no_match);
}

TEST_CASE("percent_decode", "[http_routes]") {
  CHECK(percent_decode("a%20b+c") == "a b+c");
  CHECK(percent_decode("%e2%82%AC") == "\xe2\x82\xac");
  CHECK(percent_decode("") == "");
  CHECK_FALSE(percent_decode("%"));
  CHECK_FALSE(percent_decode("%a"));
  CHECK_FALSE(percent_decode("%zz"));
  CHECK_FALSE(percent_decode("ok%g0"));
}
