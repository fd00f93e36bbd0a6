#include "obs/snapshot.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <string>

TEST_CASE("the builder copies strings and sorts families and series") {
  obs::snapshot s;
  {
    obs::snapshot_builder b;
    std::string name = "zeta_total", key = "queue", value = "b";
    b.add_family(name, obs::metric_type::counter, "Zeta.");
    b.add_series({{key, value}}, obs::number::integer(2));
    value = "a";
    b.add_series({{key, value}}, obs::number::integer(1));
    name = "alpha";
    b.add_family(name, obs::metric_type::gauge);
    b.add_series({}, obs::number::floating(0.5));
    name.assign(20, '#');  // the snapshot must not see this
    s = std::move(b).build();
  }
  REQUIRE(s.families().size() == 2);
  CHECK(s.families()[0].name == "alpha");
  CHECK(s.families()[1].name == "zeta_total");
  CHECK(s.families()[1].help == "Zeta.");
  CHECK(s.families()[1].series[0].labels[0].value == "a");
  CHECK(s.families()[1].series[0].value.as_integer() == 1);
  CHECK(s.find("alpha") == &s.families()[0]);
  CHECK(s.find("missing") == nullptr);
}

TEST_CASE("histogram series get a +Inf bucket when missing") {
  obs::snapshot_builder b;
  b.add_family("h_seconds", obs::metric_type::histogram);
  b.add_histogram_series({}, {{0.1, 1}, {1, 3}}, 1.5, 4);
  obs::snapshot s = std::move(b).build();
  const auto& series = s.families()[0].series[0];
  REQUIRE(series.buckets.size() == 3);
  CHECK(std::isinf(series.buckets[2].upper_bound));
  CHECK(series.buckets[2].cumulative_count == 4);
}

TEST_CASE("summaries keep their quantiles") {
  obs::snapshot_builder b;
  b.add_family("rpc_seconds", obs::metric_type::summary);
  b.add_summary_series({{"m", "get"}}, {{0.5, 0.01}, {0.99, 0.2}}, 3.0, 100, 1.7e9);
  obs::snapshot s = std::move(b).build();
  const auto& series = s.families()[0].series[0];
  CHECK(series.quantiles.size() == 2);
  CHECK(series.count == 100);
  CHECK(series.created.value() == 1.7e9);
}

TEST_CASE("numbers keep integers exact") {
  obs::number n = obs::number::integer(9007199254740993ull);
  CHECK(n.is_integer());
  CHECK(n.as_integer() == 9007199254740993ull);
  CHECK_FALSE(obs::number::floating(1).is_integer());
  CHECK(obs::to_string(obs::metric_type::histogram) == "histogram");
}

TEST_CASE("a copying builder makes every string valid UTF-8") {
  obs::snapshot_builder b;
  b.add_family("odd", obs::metric_type::gauge, std::string_view("h\xff"));
  b.add_series({{"k", std::string_view("\xc0\xaf")}}, obs::number::integer(0));
  obs::snapshot s = std::move(b).build();
  CHECK(s.families()[0].help == "h\xef\xbf\xbd");
  CHECK(s.families()[0].series[0].labels[0].value == "\xef\xbf\xbd\xef\xbf\xbd");
}
