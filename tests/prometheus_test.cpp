#include "obs/prometheus.hpp"

#include <catch2/catch.hpp>

#include <limits>
#include <sstream>
#include <string>

#include "exposition/cases.hpp"
#include "support/counting_new.hpp"

using obs::prometheus::render;

TEST_CASE("prometheus: content type names version 0.0.4") {
  CHECK(obs::prometheus::content_type == "text/plain; version=0.0.4; charset=utf-8");
}

TEST_CASE("prometheus: an empty snapshot renders nothing") {
  CHECK(render(obs::snapshot()).empty());
}

TEST_CASE("prometheus: help escapes backslash and newline, label values also quotes") {
  CHECK(render(obs_test::escaping()) ==
        R"x(# HELP escape_value Path "C:\\tmp" with\nnewline; Größe ✓
# TYPE escape_value gauge
escape_value{path="C:\\dir\\\"q\"\nend",word="日本 ü"} 1
escape_value{path="plain",word=""} 0.5
)x");
}

TEST_CASE("prometheus: infinities, NaN and shortest round-trip doubles") {
  CHECK(render(obs_test::special_values()) == R"(# HELP probe_value Odd values.
# TYPE probe_value gauge
probe_value{case="a_pos_inf"} +Inf
probe_value{case="b_neg_inf"} -Inf
probe_value{case="c_nan"} NaN
probe_value{case="d_tenth"} 0.1
probe_value{case="e_negative"} -2.5
probe_value{case="f_huge"} 1e+22
probe_value{case="g_tiny"} 1.5e-07
probe_value{case="h_whole"} 3
)");
}

TEST_CASE("prometheus: histogram buckets ascend to +Inf, le last, then sum and count") {
  CHECK(render(obs_test::histogram()) == R"(# HELP request_duration_seconds Request latency.
# TYPE request_duration_seconds histogram
request_duration_seconds_bucket{method="GET",le="0.005"} 1
request_duration_seconds_bucket{method="GET",le="0.1"} 3
request_duration_seconds_bucket{method="GET",le="1"} 4
request_duration_seconds_bucket{method="GET",le="1e+06"} 4
request_duration_seconds_bucket{method="GET",le="+Inf"} 5
request_duration_seconds_sum{method="GET"} 1.75
request_duration_seconds_count{method="GET"} 5
request_duration_seconds_bucket{method="POST",le="0.005"} 0
request_duration_seconds_bucket{method="POST",le="0.1"} 1
request_duration_seconds_bucket{method="POST",le="1"} 1
request_duration_seconds_bucket{method="POST",le="1e+06"} 2
request_duration_seconds_bucket{method="POST",le="+Inf"} 2
request_duration_seconds_sum{method="POST"} 2.5
request_duration_seconds_count{method="POST"} 2
)");
}

TEST_CASE("prometheus: u64 counters stay exact above 2^53") {
  CHECK(render(obs_test::big_integers()) == R"(# HELP sent_bytes_total Bytes sent.
# TYPE sent_bytes_total counter
sent_bytes_total{peer="a"} 9007199254740993
sent_bytes_total{peer="b"} 18446744073709551615
)");
}

TEST_CASE("prometheus: a family without series still gets its metadata") {
  CHECK(render(obs_test::no_series()) == R"(# HELP jobs_total Jobs run.
# TYPE jobs_total counter
jobs_total 7
# HELP queue_depth Jobs waiting.
# TYPE queue_depth gauge
)");
}

TEST_CASE("prometheus: summary quantiles come after the series' own labels") {
  CHECK(render(obs_test::summary()) == R"(# HELP rpc_latency_seconds RPC latency.
# TYPE rpc_latency_seconds summary
rpc_latency_seconds{quantile="0.5"} 1
rpc_latency_seconds_sum 3
rpc_latency_seconds_count 3
rpc_latency_seconds{service="auth",quantile="0.5"} 0.012
rpc_latency_seconds{service="auth",quantile="0.9"} 0.05
rpc_latency_seconds{service="auth",quantile="0.99"} 0.25
rpc_latency_seconds_sum{service="auth"} 17.5
rpc_latency_seconds_count{service="auth"} 1000
)");
}

TEST_CASE("prometheus: info is typed gauge, units write no line") {
  CHECK(render(obs_test::info_and_units()) == R"(# HELP build_info Build facts.
# TYPE build_info gauge
build_info{revision="abc123",version="1.2.3"} 1
# HELP heap_bytes Heap in use.
# TYPE heap_bytes gauge
heap_bytes 4096
# HELP uptime Time since start.
# TYPE uptime gauge
uptime 12.5
)");
}

TEST_CASE("prometheus: names are written as registered, created is not a 0.0.4 line") {
  CHECK(render(obs_test::counters_created()) == R"(# HELP events Events seen.
# TYPE events counter
events{kind="x"} 4
# HELP processed_bytes_total Bytes processed.
# TYPE processed_bytes_total counter
processed_bytes_total 1024
processed_bytes_total{stage="b"} 2.5
)");
}

TEST_CASE("prometheus: empty help writes no HELP line") {
  obs::snapshot_builder b;
  b.add_family("up", obs::metric_type::gauge);
  b.add_series({}, obs::number::integer(1));
  CHECK(render(std::move(b).build()) == "# TYPE up gauge\nup 1\n");
}

TEST_CASE("prometheus: le values are spelled as Go spells them") {
  obs::snapshot_builder b;
  b.add_family("spread", obs::metric_type::histogram);
  b.add_histogram_series({}, {{-1e7, 0}, {-0.5, 0}, {1e-10, 0}, {0.0001, 0}, {100000, 0},
                              {999999.5, 0}, {1234567, 0}, {1234567.5, 0}, {1e15, 0}, {1e16, 0},
                              {1.5e23, 0}},
                         0, 0);
  const std::string text = render(std::move(b).build());
  CHECK(text == R"(# TYPE spread histogram
spread_bucket{le="-1e+07"} 0
spread_bucket{le="-0.5"} 0
spread_bucket{le="1e-10"} 0
spread_bucket{le="0.0001"} 0
spread_bucket{le="100000"} 0
spread_bucket{le="999999.5"} 0
spread_bucket{le="1.234567e+06"} 0
spread_bucket{le="1.2345675e+06"} 0
spread_bucket{le="1e+15"} 0
spread_bucket{le="1e+16"} 0
spread_bucket{le="1.5e+23"} 0
spread_bucket{le="+Inf"} 0
spread_sum 0
spread_count 0
)");
}

TEST_CASE("prometheus: render_to appends") {
  std::string out = "prefix\n";
  obs::prometheus::render_to(obs_test::no_series(), out);
  CHECK(out == "prefix\n" + render(obs_test::no_series()));
}

TEST_CASE("prometheus: output ignores the global C and C++ locales") {
  const obs::snapshot varied = obs_test::big_varied();
  const std::string before = render(varied);
  obs_test::scoped_comma_locale guard;
  std::ostringstream probe;
  probe << 1234.5;
  REQUIRE(probe.str() == "1.234,5");  // the locale is really in force
  CHECK(render(varied) == before);
  CHECK(render(obs_test::histogram()).find(R"(le="0.005"} 1)") != std::string::npos);
  CHECK(render(obs_test::big_integers()).find("18446744073709551615") != std::string::npos);
}

TEST_CASE("prometheus: 10,000 counters and 1,000 histograms render in few allocations") {
  const obs::snapshot s = obs_test::large();
  std::string out;
  const std::size_t before = obs_test::thread_allocation_count();
  obs::prometheus::render_to(s, out);
  const std::size_t first = obs_test::thread_allocation_count() - before;
  CHECK(first <= 100);
  CHECK(out.size() > 500000);
  // Rendering again into the cleared string reuses its buffer.
  out.clear();
  const std::size_t again = obs_test::thread_allocation_count();
  obs::prometheus::render_to(s, out);
  CHECK(obs_test::thread_allocation_count() - again == 0);
}

TEST_CASE("prometheus: exemplars are never written, 0.0.4 cannot carry them") {
  CHECK(render(obs_test::exemplars()) == R"(# HELP order_value_dollars Order values.
# TYPE order_value_dollars histogram
order_value_dollars_bucket{le="1"} 1
order_value_dollars_bucket{le="10"} 1
order_value_dollars_bucket{le="100"} 3
order_value_dollars_bucket{le="+Inf"} 4
order_value_dollars_sum 270.25
order_value_dollars_count 4
# HELP orders_total Orders taken.
# TYPE orders_total counter
orders_total{shop="east"} 3
orders_total{shop="west"} 0
)");
  CHECK(render(obs_test::native_histogram()).find('#' + std::string(" {")) == std::string::npos);
}
