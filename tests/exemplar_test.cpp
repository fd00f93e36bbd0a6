#include "obs/exemplar.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "obs/counter.hpp"
#include "obs/histogram.hpp"
#include "obs/registry.hpp"
#include "support/counting_new.hpp"

namespace {

const obs::series_snapshot& only_series(const obs::snapshot& s, std::string_view name) {
  const obs::family_snapshot* f = s.find(name);
  REQUIRE(f != nullptr);
  REQUIRE(f->series.size() == 1);
  return f->series[0];
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::uint64_t rejected_exemplars(const obs::snapshot& s) {
  std::uint64_t n = 0;
  if (const obs::family_snapshot* f = s.find("obs_rejected_exemplars_total"))
    for (const obs::series_snapshot& series : f->series) n += series.value.as_integer();
  return n;
}

}  // namespace

TEST_CASE("a counter keeps its latest exemplar, with the increment and the time") {
  obs::registry reg;
  obs::counter requests = reg.counter("requests_total");
  const double before = now_seconds();
  requests.increment(1, {{"trace_id", "aaaa"}});
  std::string trace = "4bf92f3577b34da6a3ce929d0e0e4736";
  requests.increment(2, {{"trace_id", trace}, {"span_id", "00f067aa0ba902b7"}});
  trace = "changed after the call";
  requests.increment();
  obs::snapshot s = reg.snapshot();
  const auto& series = only_series(s, "requests_total");
  CHECK(series.value.as_integer() == 4);
  REQUIRE(series.exemplars.size() == 1);
  const obs::exemplar_snapshot& e = series.exemplars[0];
  CHECK(e.value == 2);
  REQUIRE(e.labels.size() == 2);
  CHECK(e.labels[0].name == "trace_id");
  CHECK(e.labels[0].value == "4bf92f3577b34da6a3ce929d0e0e4736");
  CHECK(e.labels[1].name == "span_id");
  REQUIRE(e.timestamp);
  CHECK(*e.timestamp >= before);
  CHECK(*e.timestamp <= now_seconds());
}

TEST_CASE("an explicit histogram keeps the latest exemplar of each bucket, ascending") {
  obs::registry reg;
  reg.set_buckets_for_metric(obs::matcher::full("latency_seconds"), {0.1, 1});
  obs::histogram h = reg.histogram("latency_seconds");
  h.record(0.05, {{"trace_id", "a"}});
  h.record(0.07, {{"trace_id", "b"}});  // same bucket: replaces a
  h.record(5, {{"trace_id", "c"}});     // +Inf bucket
  h.record(0.5);
  obs::snapshot s = reg.snapshot();
  const auto& series = only_series(s, "latency_seconds");
  CHECK(series.count == 4);
  REQUIRE(series.exemplars.size() == 2);
  CHECK(series.exemplars[0].value == 0.07);
  CHECK(series.exemplars[0].labels[0].value == "b");
  CHECK(series.exemplars[1].value == 5);
  CHECK(series.exemplars[1].labels[0].value == "c");
}

TEST_CASE("a native histogram keeps its last exemplars, the latest per power of two") {
  obs::registry reg;
  reg.set_histogram_config(obs::matcher::full("rtt_seconds"), obs::histogram_config::native());
  obs::histogram h = reg.histogram("rtt_seconds");
  h.record(0.3, {{"trace_id", "old"}});
  h.record(0.4, {{"trace_id", "new"}});  // (0.25, 0.5] again
  h.record(3, {{"trace_id", "big"}});
  h.record(0.001, {{"trace_id", "small"}});
  obs::snapshot s = reg.snapshot();
  const auto& series = only_series(s, "rtt_seconds");
  REQUIRE(series.exemplars.size() == 3);
  CHECK(series.exemplars[0].labels[0].value == "small");
  CHECK(series.exemplars[1].labels[0].value == "new");
  CHECK(series.exemplars[2].labels[0].value == "big");
}

TEST_CASE("an exemplar that breaks the rules is refused and counted; its value is recorded") {
  obs::registry reg;
  obs::counter c = reg.counter("jobs_total");
  c.increment(1, {{"trace id", "x"}});                 // invalid name
  c.increment(1, {{"__trace", "x"}});                   // reserved for Prometheus, as on metrics
  c.increment(1, {{"trace_id", std::string(129, 'x')}});  // over 128 code points
  c.increment(1, {{"a", "1"}, {"b", "2"}, {"c", "3"}, {"d", "4"}, {"e", "5"}});  // over max_labels
  c.increment(1, {{"trace_id", std::string("a\0b", 3)}});  // NUL in a value
  reg.set_histogram_config(obs::matcher::full("summary_seconds"), obs::histogram_config::high_resolution());
  reg.histogram("summary_seconds").record(1, {{"trace_id", "x"}});  // a summary has no buckets
  obs::snapshot s = reg.snapshot();
  CHECK(only_series(s, "jobs_total").value.as_integer() == 5);
  CHECK(only_series(s, "jobs_total").exemplars.empty());
  CHECK(only_series(s, "summary_seconds").count == 1);
  CHECK(rejected_exemplars(s) == 6);
  // 128 code points exactly is fine: 8 of the name, 120 two-byte ones.
  std::string value;
  for (int i = 0; i < 120; ++i) value += "\xc3\xa9";
  c.increment(1, {{"trace_id", value}});
  obs::snapshot after = reg.snapshot();
  REQUIRE(only_series(after, "jobs_total").exemplars.size() == 1);
  CHECK(only_series(after, "jobs_total").exemplars[0].labels[0].value == value);
}

TEST_CASE("recording with an exemplar allocates nothing after the series' first") {
  obs::registry reg;
  obs::counter c = reg.counter("c_total");
  obs::histogram h = reg.histogram("h_seconds");
  std::string trace = "4bf92f3577b34da6a3ce929d0e0e4736";
  c.increment(1, {{"trace_id", trace}});
  h.record(0.1, {{"trace_id", trace}});
  CHECK(obs_test::allocations_in([&] {
          for (int i = 0; i < 1000; ++i) {
            c.increment(1, {{"trace_id", trace}});
            h.record(0.1 * i, {{"trace_id", trace}});
          }
        }) == 0);
}

TEST_CASE("exemplars stay whole while threads write them and snapshots read them") {
  obs::registry reg;
  obs::counter c = reg.counter("racing_total");
  reg.set_buckets_for_metric(obs::matcher::full("racing_seconds"), {1});
  obs::histogram h = reg.histogram("racing_seconds");
  std::atomic<bool> done{false};
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t)
    writers.emplace_back([&, t] {
      for (int i = 0; !done.load(); ++i) {
        // The label says which value it came with, so a torn read shows.
        const std::string id = std::to_string(t * 1000000 + i % 1000000);
        c.increment(static_cast<std::uint64_t>(t * 1000000 + i % 1000000), {{"id", id}});
        h.record(0.5, {{"id", id}});
      }
    });
  for (int scrape = 0; scrape < 300; ++scrape) {
    obs::snapshot s = reg.snapshot();
    for (std::string_view name : {"racing_total", "racing_seconds"}) {
      const auto& series = only_series(s, name);
      for (const obs::exemplar_snapshot& e : series.exemplars) {
        REQUIRE(e.labels.size() == 1);
        if (name == "racing_total") CHECK(e.labels[0].value == std::to_string(static_cast<std::uint64_t>(e.value)));
        else CHECK(e.value == 0.5);
      }
    }
  }
  done = true;
  for (auto& w : writers) w.join();
}
