#include "obs/json.hpp"

#include <catch2/catch.hpp>

#include <sstream>
#include <string>

#include "exposition/cases.hpp"
#include "support/counting_new.hpp"

using obs::json::render;

TEST_CASE("json: content type") { CHECK(obs::json::content_type == "application/json"); }

TEST_CASE("json: an empty snapshot is an empty metrics array") {
  CHECK(render(obs::snapshot()) == R"({"metrics":[]})");
}

TEST_CASE("json: strings escape quotes, backslashes and control characters, UTF-8 passes") {
  CHECK(render(obs_test::escaping()) ==
        R"x({"metrics":[{"name":"escape_value","type":"gauge",)x"
        R"x("help":"Path \"C:\\tmp\" with\u000anewline; Größe ✓","unit":"","series":[)x"
        R"x({"labels":{"path":"C:\\dir\\\"q\"\u000aend","word":"日本 ü"},"value":1},)x"
        R"x({"labels":{"path":"plain","word":""},"value":0.5}]}]})x");
}

TEST_CASE("json: bytes that are not UTF-8 become U+FFFD") {
  // Borrowed, so the writer sees the bytes: a copying builder sanitises them first.
  obs::snapshot_builder b(obs::snapshot_builder::strings::borrowed);
  b.add_family("odd", obs::metric_type::gauge,
               // tab, DEL, a lone continuation byte, an overlong '/', a
               // surrogate, a truncated sequence, then a valid 4-byte one.
               "\t\x7f|\x80|\xC0\xAF|\xED\xA0\x80|\xE2\x9C|\xF0\x9F\x98\x80");
  b.add_series({}, obs::number::integer(0));
  CHECK(render(std::move(b).build()) ==
        R"({"metrics":[{"name":"odd","type":"gauge","help":)"
        "\"\\u0009\x7f|\\ufffd|\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd|\\ufffd\\ufffd|"
        "\xF0\x9F\x98\x80\","
        R"("unit":"","series":[{"labels":{},"value":0}]}]})");
}

TEST_CASE("json: values JSON cannot hold are strings") {
  CHECK(render(obs_test::special_values()) ==
        R"({"metrics":[{"name":"probe_value","type":"gauge","help":"Odd values.","unit":"",)"
        R"("series":[{"labels":{"case":"a_pos_inf"},"value":"+Inf"},)"
        R"({"labels":{"case":"b_neg_inf"},"value":"-Inf"},)"
        R"({"labels":{"case":"c_nan"},"value":"NaN"},)"
        R"({"labels":{"case":"d_tenth"},"value":0.1},)"
        R"({"labels":{"case":"e_negative"},"value":-2.5},)"
        R"({"labels":{"case":"f_huge"},"value":1e+22},)"
        R"({"labels":{"case":"g_tiny"},"value":1.5e-07},)"
        R"({"labels":{"case":"h_whole"},"value":3}]}]})");
}

TEST_CASE("json: histograms list cumulative buckets ending in +Inf, sum, count, created") {
  CHECK(render(obs_test::histogram()) ==
        R"({"metrics":[{"name":"request_duration_seconds","type":"histogram",)"
        R"("help":"Request latency.","unit":"seconds","series":[)"
        R"({"labels":{"method":"GET"},"buckets":[{"le":0.005,"count":1},{"le":0.1,"count":3},)"
        R"({"le":1,"count":4},{"le":1000000,"count":4},{"le":"+Inf","count":5}],)"
        R"("sum":1.75,"count":5,"created":1700000000},)"
        R"({"labels":{"method":"POST"},"buckets":[{"le":0.005,"count":0},{"le":0.1,"count":1},)"
        R"({"le":1,"count":1},{"le":1000000,"count":2},{"le":"+Inf","count":2}],)"
        R"("sum":2.5,"count":2,"created":1700000000.25}]}]})");
}

TEST_CASE("json: summaries list quantiles, sum and count") {
  CHECK(render(obs_test::summary()) ==
        R"({"metrics":[{"name":"rpc_latency_seconds","type":"summary","help":"RPC latency.",)"
        R"("unit":"seconds","series":[)"
        R"({"labels":{},"quantiles":[{"quantile":0.5,"value":1}],"sum":3,"count":3},)"
        R"({"labels":{"service":"auth"},"quantiles":[{"quantile":0.5,"value":0.012},)"
        R"({"quantile":0.9,"value":0.05},{"quantile":0.99,"value":0.25}],)"
        R"("sum":17.5,"count":1000,"created":1600000000.5}]}]})");
}

TEST_CASE("json: u64 integers stay exact, families without series keep their metadata") {
  CHECK(render(obs_test::big_integers()) ==
        R"({"metrics":[{"name":"sent_bytes_total","type":"counter","help":"Bytes sent.",)"
        R"("unit":"bytes","series":[{"labels":{"peer":"a"},"value":9007199254740993},)"
        R"({"labels":{"peer":"b"},"value":18446744073709551615}]}]})");
  CHECK(render(obs_test::no_series()) ==
        R"({"metrics":[{"name":"jobs_total","type":"counter","help":"Jobs run.","unit":"",)"
        R"("series":[{"labels":{},"value":7}]},)"
        R"({"name":"queue_depth","type":"gauge","help":"Jobs waiting.","unit":"","series":[]}]})");
}

TEST_CASE("json: info keeps its type and name") {
  const std::string text = render(obs_test::info_and_units());
  CHECK(text.starts_with(
      R"({"metrics":[{"name":"build_info","type":"info","help":"Build facts.","unit":"",)"
      R"("series":[{"labels":{"revision":"abc123","version":"1.2.3"},"value":1}]},)"));
}

TEST_CASE("json: render_to appends") {
  std::string out = "x";
  obs::json::render_to(obs_test::no_series(), out);
  CHECK(out == "x" + render(obs_test::no_series()));
}

TEST_CASE("json: output ignores the global C and C++ locales") {
  const obs::snapshot varied = obs_test::big_varied();
  const std::string before = render(varied);
  obs_test::scoped_comma_locale guard;
  std::ostringstream probe;
  probe << 1234.5;
  REQUIRE(probe.str() == "1.234,5");  // the locale is really in force
  CHECK(render(varied) == before);
  CHECK(render(obs_test::histogram()).find(R"("sum":1.75,)") != std::string::npos);
}

TEST_CASE("json: 10,000 counters and 1,000 histograms render in few allocations") {
  const obs::snapshot s = obs_test::large();
  std::string out;
  const std::size_t before = obs_test::thread_allocation_count();
  obs::json::render_to(s, out);
  CHECK(obs_test::thread_allocation_count() - before <= 100);
  CHECK(out.size() > 500000);
  out.clear();
  const std::size_t again = obs_test::thread_allocation_count();
  obs::json::render_to(s, out);
  CHECK(obs_test::thread_allocation_count() - again == 0);
}

TEST_CASE("json: exemplars on the counter series and on the bucket each belongs to") {
  CHECK(obs::json::render(obs_test::exemplars()) ==
        R"x({"metrics":[{"name":"order_value_dollars","type":"histogram","help":"Order values.","unit":"","series":[)x"
        R"x({"labels":{},"buckets":[{"le":1,"count":1,"exemplar":{"labels":{"trace_id":"s1"},"value":0.25}},)x"
        R"x({"le":10,"count":1},{"le":100,"count":3},)x"
        R"x({"le":"+Inf","count":4,"exemplar":{"labels":{"trace_id":"b2","user":"u"},"value":120,"timestamp":1700000001}}],)x"
        R"x("sum":270.25,"count":4}]},)x"
        R"x({"name":"orders_total","type":"counter","help":"Orders taken.","unit":"","series":[)x"
        R"x({"labels":{"shop":"east"},"value":3,"exemplar":{"labels":{"trace_id":"abc\"1\\"},"value":1,"timestamp":1700000000.5}},)x"
        R"x({"labels":{"shop":"west"},"value":0}]}]})x");
}
