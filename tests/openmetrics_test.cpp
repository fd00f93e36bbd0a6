#include "obs/openmetrics.hpp"

#include <catch2/catch.hpp>

#include <sstream>
#include <string>

#include "exposition/cases.hpp"
#include "support/counting_new.hpp"

using obs::openmetrics::render;

namespace {
const obs::openmetrics::options with_created{.created = true};
}

TEST_CASE("openmetrics: content type names version 1.0.0") {
  CHECK(obs::openmetrics::content_type ==
        "application/openmetrics-text; version=1.0.0; charset=utf-8");
}

TEST_CASE("openmetrics: an empty snapshot is just the EOF marker") {
  CHECK(render(obs::snapshot()) == "# EOF\n");
}

TEST_CASE("openmetrics: help escapes quotes too, metadata order is TYPE, UNIT, HELP") {
  CHECK(render(obs_test::escaping()) == R"x(# TYPE escape_value gauge
# HELP escape_value Path \"C:\\tmp\" with\nnewline; Größe ✓
escape_value{path="C:\\dir\\\"q\"\nend",word="日本 ü"} 1
escape_value{path="plain",word=""} 0.5
# EOF
)x");
}

TEST_CASE("openmetrics: infinities, NaN and shortest round-trip doubles") {
  CHECK(render(obs_test::special_values()) == R"(# TYPE probe_value gauge
# HELP probe_value Odd values.
probe_value{case="a_pos_inf"} +Inf
probe_value{case="b_neg_inf"} -Inf
probe_value{case="c_nan"} NaN
probe_value{case="d_tenth"} 0.1
probe_value{case="e_negative"} -2.5
probe_value{case="f_huge"} 1e+22
probe_value{case="g_tiny"} 1.5e-07
probe_value{case="h_whole"} 3
# EOF
)");
}

TEST_CASE("openmetrics: histogram with canonical le, unit, count, sum and created") {
  CHECK(render(obs_test::histogram(), with_created) == R"(# TYPE request_duration_seconds histogram
# UNIT request_duration_seconds seconds
# HELP request_duration_seconds Request latency.
request_duration_seconds_bucket{method="GET",le="0.005"} 1
request_duration_seconds_bucket{method="GET",le="0.1"} 3
request_duration_seconds_bucket{method="GET",le="1.0"} 4
request_duration_seconds_bucket{method="GET",le="1e+06"} 4
request_duration_seconds_bucket{method="GET",le="+Inf"} 5
request_duration_seconds_count{method="GET"} 5
request_duration_seconds_sum{method="GET"} 1.75
request_duration_seconds_created{method="GET"} 1700000000
request_duration_seconds_bucket{method="POST",le="0.005"} 0
request_duration_seconds_bucket{method="POST",le="0.1"} 1
request_duration_seconds_bucket{method="POST",le="1.0"} 1
request_duration_seconds_bucket{method="POST",le="1e+06"} 2
request_duration_seconds_bucket{method="POST",le="+Inf"} 2
request_duration_seconds_count{method="POST"} 2
request_duration_seconds_sum{method="POST"} 2.5
request_duration_seconds_created{method="POST"} 1700000000.25
# EOF
)");
}

TEST_CASE("openmetrics: created lines only when asked for") {
  const std::string text = render(obs_test::histogram());
  CHECK(text.find("_created") == std::string::npos);
  CHECK(text.find(R"(request_duration_seconds_sum{method="POST"} 2.5)") != std::string::npos);
}

TEST_CASE("openmetrics: counters drop _total from metadata and keep it on samples") {
  CHECK(render(obs_test::big_integers()) == R"(# TYPE sent_bytes counter
# UNIT sent_bytes bytes
# HELP sent_bytes Bytes sent.
sent_bytes_total{peer="a"} 9007199254740993
sent_bytes_total{peer="b"} 18446744073709551615
# EOF
)");
}

TEST_CASE("openmetrics: a counter registered without _total gets it on samples") {
  CHECK(render(obs_test::counters_created(), with_created) == R"(# TYPE events counter
# HELP events Events seen.
events_total{kind="x"} 4
events_created{kind="x"} 1700000000.5
# TYPE processed_bytes counter
# UNIT processed_bytes bytes
# HELP processed_bytes Bytes processed.
processed_bytes_total 1024
processed_bytes_created 1700000001
processed_bytes_total{stage="b"} 2.5
# EOF
)");
}

TEST_CASE("openmetrics: a family without series still gets its metadata") {
  CHECK(render(obs_test::no_series()) == R"(# TYPE jobs counter
# HELP jobs Jobs run.
jobs_total 7
# TYPE queue_depth gauge
# HELP queue_depth Jobs waiting.
# EOF
)");
}

TEST_CASE("openmetrics: summary quantiles are canonical and come last among labels") {
  CHECK(render(obs_test::summary(), with_created) == R"(# TYPE rpc_latency_seconds summary
# UNIT rpc_latency_seconds seconds
# HELP rpc_latency_seconds RPC latency.
rpc_latency_seconds{quantile="0.5"} 1
rpc_latency_seconds_count 3
rpc_latency_seconds_sum 3
rpc_latency_seconds{service="auth",quantile="0.5"} 0.012
rpc_latency_seconds{service="auth",quantile="0.9"} 0.05
rpc_latency_seconds{service="auth",quantile="0.99"} 0.25
rpc_latency_seconds_count{service="auth"} 1000
rpc_latency_seconds_sum{service="auth"} 17.5
rpc_latency_seconds_created{service="auth"} 1600000000.5
# EOF
)");
}

TEST_CASE("openmetrics: info drops _info from metadata, UNIT only when the name ends in it") {
  CHECK(render(obs_test::info_and_units()) == R"(# TYPE build info
# HELP build Build facts.
build_info{revision="abc123",version="1.2.3"} 1
# TYPE heap_bytes gauge
# UNIT heap_bytes bytes
# HELP heap_bytes Heap in use.
heap_bytes 4096
# TYPE uptime gauge
# HELP uptime Time since start.
uptime 12.5
# EOF
)");
}

TEST_CASE("openmetrics: le and quantile values are the spec's canonical numbers") {
  // The spec's list: 1e-10 1e-09 1e-05 0.0001 0.1 1.0 100000.0 1e+06 1e+10.
  obs::snapshot_builder b;
  b.add_family("spread", obs::metric_type::histogram);
  b.add_histogram_series({}, {{0, 0}, {1e-10, 0}, {1e-9, 0}, {1e-5, 0}, {0.0001, 0}, {0.1, 0},
                              {1, 0}, {10, 0}, {100000, 0}, {1e6, 0}, {1e10, 0}, {1.1e23, 0}},
                         0, 0);
  b.add_family("quantiles", obs::metric_type::summary);
  b.add_summary_series({}, {{0, 1}, {0.999, 2}, {1, 3}}, 6, 3);
  CHECK(render(std::move(b).build()) == R"(# TYPE quantiles summary
quantiles{quantile="0.0"} 1
quantiles{quantile="0.999"} 2
quantiles{quantile="1.0"} 3
quantiles_count 3
quantiles_sum 6
# TYPE spread histogram
spread_bucket{le="0.0"} 0
spread_bucket{le="1e-10"} 0
spread_bucket{le="1e-09"} 0
spread_bucket{le="1e-05"} 0
spread_bucket{le="0.0001"} 0
spread_bucket{le="0.1"} 0
spread_bucket{le="1.0"} 0
spread_bucket{le="10.0"} 0
spread_bucket{le="100000.0"} 0
spread_bucket{le="1e+06"} 0
spread_bucket{le="1e+10"} 0
spread_bucket{le="1.1e+23"} 0
spread_bucket{le="+Inf"} 0
spread_count 0
spread_sum 0
# EOF
)");
}

TEST_CASE("openmetrics: render_to appends") {
  std::string out = "prefix\n";
  obs::openmetrics::render_to(obs_test::no_series(), out);
  CHECK(out == "prefix\n" + render(obs_test::no_series()));
}

TEST_CASE("openmetrics: output ignores the global C and C++ locales") {
  const obs::snapshot varied = obs_test::big_varied();
  const std::string before = render(varied, with_created);
  obs_test::scoped_comma_locale guard;
  std::ostringstream probe;
  probe << 1234.5;
  REQUIRE(probe.str() == "1.234,5");  // the locale is really in force
  CHECK(render(varied, with_created) == before);
  CHECK(render(obs_test::histogram(), with_created).find(
            R"(request_duration_seconds_created{method="POST"} 1700000000.25)") !=
        std::string::npos);
}

TEST_CASE("openmetrics: 10,000 counters and 1,000 histograms render in few allocations") {
  const obs::snapshot s = obs_test::large();
  std::string out;
  const std::size_t before = obs_test::thread_allocation_count();
  obs::openmetrics::render_to(s, out);
  CHECK(obs_test::thread_allocation_count() - before <= 100);
  CHECK(out.size() > 500000);
  out.clear();
  const std::size_t again = obs_test::thread_allocation_count();
  obs::openmetrics::render_to(s, out);
  CHECK(obs_test::thread_allocation_count() - again == 0);
}

TEST_CASE("a histogram with a negative bound has no _sum and no _count") {
  CHECK(render(obs_test::negative_buckets()) == R"(# TYPE temperature_celsius histogram
# UNIT temperature_celsius celsius
# HELP temperature_celsius Readings.
temperature_celsius_bucket{le="-10.0"} 1
temperature_celsius_bucket{le="0.0"} 2
temperature_celsius_bucket{le="10.0"} 3
temperature_celsius_bucket{le="+Inf"} 3
# EOF
)");
}

TEST_CASE("openmetrics: exemplars on the counter's _total line and on their buckets") {
  CHECK(render(obs_test::exemplars()) == R"x(# TYPE order_value_dollars histogram
# HELP order_value_dollars Order values.
order_value_dollars_bucket{le="1.0"} 1 # {trace_id="s1"} 0.25
order_value_dollars_bucket{le="10.0"} 1
order_value_dollars_bucket{le="100.0"} 3
order_value_dollars_bucket{le="+Inf"} 4 # {trace_id="b2",user="u"} 120 1700000001
order_value_dollars_count 4
order_value_dollars_sum 270.25
# TYPE orders counter
# HELP orders Orders taken.
orders_total{shop="east"} 3 # {trace_id="abc\"1\\"} 1 1700000000.5
orders_total{shop="west"} 0
# EOF
)x");
}

TEST_CASE("openmetrics: a native histogram shows its classic buckets and exemplar") {
  CHECK(render(obs_test::native_histogram()) == R"(# TYPE rpc_duration_seconds histogram
# UNIT rpc_duration_seconds seconds
# HELP rpc_duration_seconds RPC durations.
rpc_duration_seconds_bucket{service="auth",le="0.0"} 6
rpc_duration_seconds_bucket{service="auth",le="1.0"} 6
rpc_duration_seconds_bucket{service="auth",le="2.0"} 13 # {trace_id="f00d"} 1.5 1700000002.25
rpc_duration_seconds_bucket{service="auth",le="+Inf"} 13
rpc_duration_seconds_count{service="auth"} 13
rpc_duration_seconds_sum{service="auth"} 5.75
rpc_duration_seconds_bucket{service="idle",le="+Inf"} 0
rpc_duration_seconds_count{service="idle"} 0
rpc_duration_seconds_sum{service="idle"} 0
# EOF
)");
}

TEST_CASE("openmetrics: an exemplar goes on the first bucket at or above it, the last of several kept") {
  obs::snapshot_builder b;
  b.add_family("h", obs::metric_type::histogram);
  const obs::label_view one[] = {{"id", "1"}};
  const obs::label_view two[] = {{"id", "2"}};
  const obs::label_view three[] = {{"id", "3"}};
  const obs::label_view none[] = {{"id", "n"}};
  b.add_histogram_series({}, {{1, 2}, {5, 3}}, 9.5, 4);
  // 1 lies on the bound of le="1", so it belongs there; 7 lies above every
  // finite bound, so +Inf.
  b.add_exemplars({{one, 0.5, std::nullopt}, {two, 1, std::nullopt}, {three, 2, std::nullopt},
                   {none, 7, std::nullopt}});
  CHECK(render(std::move(b).build()) == R"(# TYPE h histogram
h_bucket{le="1.0"} 2 # {id="2"} 1
h_bucket{le="5.0"} 3 # {id="3"} 2
h_bucket{le="+Inf"} 4 # {id="n"} 7
h_count 4
h_sum 9.5
# EOF
)");
}

TEST_CASE("openmetrics: an exemplar without labels is written with an empty label set") {
  obs::snapshot_builder b;
  b.add_family("c_total", obs::metric_type::counter);
  b.add_series({}, obs::number::integer(1));
  b.add_exemplars({{{}, 1, std::nullopt}});
  CHECK(render(std::move(b).build()) == "# TYPE c counter\nc_total 1 # {} 1\n# EOF\n");
}
