#include "obs/names.hpp"

#include <catch2/catch.hpp>

TEST_CASE("metric names follow Prometheus's rule") {
  STATIC_REQUIRE(obs::is_valid_metric_name("http_requests_total"));
  STATIC_REQUIRE(obs::is_valid_metric_name("ns:rule_name"));
  STATIC_REQUIRE(obs::is_valid_metric_name("_x"));
  STATIC_REQUIRE_FALSE(obs::is_valid_metric_name(""));
  STATIC_REQUIRE_FALSE(obs::is_valid_metric_name("1x"));
  STATIC_REQUIRE_FALSE(obs::is_valid_metric_name("a-b"));
  STATIC_REQUIRE_FALSE(obs::is_valid_metric_name("a b"));
}

TEST_CASE("label names follow Prometheus's rule and reserve __") {
  STATIC_REQUIRE(obs::is_valid_label_name("database"));
  STATIC_REQUIRE(obs::is_valid_label_name("_x1"));
  STATIC_REQUIRE_FALSE(obs::is_valid_label_name("__name__"));
  STATIC_REQUIRE_FALSE(obs::is_valid_label_name("a:b"));
  STATIC_REQUIRE_FALSE(obs::is_valid_label_name("9a"));
  STATIC_REQUIRE_FALSE(obs::is_valid_label_name(""));
}

TEST_CASE("units are lower-case words") {
  STATIC_REQUIRE(obs::is_valid_unit("seconds"));
  STATIC_REQUIRE(obs::is_valid_unit("bytes"));
  STATIC_REQUIRE_FALSE(obs::is_valid_unit("Seconds"));
  STATIC_REQUIRE_FALSE(obs::is_valid_unit(""));
}
