#include "obs/buckets.hpp"

#include <catch2/catch.hpp>

#include <limits>

TEST_CASE("default buckets are Prometheus's eleven") {
  std::vector<double> b = obs::default_buckets();
  REQUIRE(b.size() == 11);
  CHECK(b.front() == 0.005);
  CHECK(b.back() == 10);
  CHECK_NOTHROW(obs::validate_buckets(b));
}

TEST_CASE("linear and exponential helpers") {
  CHECK(obs::linear_buckets(1, 2, 3) == std::vector<double>{1, 3, 5});
  CHECK(obs::exponential_buckets(1, 10, 3) == std::vector<double>{1, 10, 100});
  CHECK_THROWS_AS(obs::linear_buckets(0, 0, 3), obs::error);
  CHECK_THROWS_AS(obs::linear_buckets(0, 1, 0), obs::error);
  CHECK_THROWS_AS(obs::exponential_buckets(0, 2, 3), obs::error);
  CHECK_THROWS_AS(obs::exponential_buckets(1, 1, 3), obs::error);
}

TEST_CASE("bounds must be finite and strictly increasing") {
  CHECK_THROWS_AS(obs::validate_buckets({1, 1}), obs::error);
  CHECK_THROWS_AS(obs::validate_buckets({2, 1}), obs::error);
  CHECK_THROWS_AS(obs::validate_buckets({1, std::numeric_limits<double>::infinity()}), obs::error);
  CHECK_THROWS_AS(obs::validate_buckets({std::numeric_limits<double>::quiet_NaN()}), obs::error);
  CHECK_THROWS_AS(obs::validate_buckets(obs::linear_buckets(0, 1, 257)), obs::error);
  CHECK_NOTHROW(obs::validate_buckets({}));
}
