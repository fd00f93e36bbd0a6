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

TEST_CASE("native histograms and exemplars survive the builder's growth") {
  obs::snapshot s;
  {
    obs::snapshot_builder b;
    b.add_family("latency_seconds", obs::metric_type::histogram);
    const obs::bucket_span positive[] = {{-3, 2}, {1, 1}};
    const std::uint64_t positive_counts[] = {4, 1, 2};
    const obs::bucket_span negative[] = {{0, 1}};
    const std::uint64_t negative_counts[] = {3};
    obs::native_histogram_snapshot native{5, 0.001, 1, positive, positive_counts, negative, negative_counts};
    std::string trace = "4bf92f3577b34da6";
    const obs::label_view exemplar_labels[] = {{"trace_id", trace}};
    const obs::label_view series_labels[] = {{"route", "/a"}};
    b.add_native_histogram_series(series_labels, native, {}, 1.5, 11);
    b.add_exemplars({{exemplar_labels, 0.25, 1700000000.5}, {exemplar_labels, 0.5, std::nullopt}});
    trace = "overwritten";  // copied, so the snapshot keeps the first value
    // Enough further series to move every vector the first one points into.
    for (int i = 0; i < 100; ++i) {
      const std::string route = "/r" + std::to_string(i);
      const obs::label_view labels[] = {{"route", route}};
      b.add_native_histogram_series(labels, native, {}, 1.5, 11);
    }
    s = std::move(b).build();
  }
  const obs::series_snapshot& first = s.families()[0].series[0];
  REQUIRE(first.labels[0].value == "/a");
  REQUIRE(first.native != nullptr);
  CHECK(first.native->schema == 5);
  CHECK(first.native->zero_threshold == 0.001);
  CHECK(first.native->zero_count == 1);
  REQUIRE(first.native->positive_spans.size() == 2);
  CHECK(first.native->positive_spans[1].offset == 1);
  CHECK(std::vector<std::uint64_t>(first.native->positive_counts.begin(), first.native->positive_counts.end()) ==
        std::vector<std::uint64_t>{4, 1, 2});
  CHECK(first.native->negative_counts.size() == 1);
  CHECK(first.native->negative_counts[0] == 3);
  REQUIRE(first.buckets.size() == 1);  // only +Inf, holding the count
  CHECK(first.buckets[0].cumulative_count == 11);
  REQUIRE(first.exemplars.size() == 2);
  CHECK(first.exemplars[0].labels[0].value == "4bf92f3577b34da6");
  CHECK(first.exemplars[0].timestamp == 1700000000.5);
  CHECK(!first.exemplars[1].timestamp);
  CHECK(s.families()[0].series[1].exemplars.empty());
  CHECK(s.families()[0].series[1].native->positive_counts[2] == 2);
}
