#include "obs/registry.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>

namespace {

const obs::family_snapshot& family(const obs::snapshot& s, std::string_view name) {
  const obs::family_snapshot* f = s.find(name);
  REQUIRE(f != nullptr);
  return *f;
}

obs::errc error_code(const std::function<void()>& call) {
  try {
    call();
  } catch (const obs::error& e) {
    return e.code();
  }
  FAIL("expected obs::error");
  return obs::errc::invalid_argument;
}

}  // namespace

TEST_CASE("a counter registered twice is one series") {
  obs::registry reg;
  reg.counter("jobs_total", {{"queue", "mail"}}).increment();
  reg.counter("jobs_total", {{"queue", "mail"}}).increment(4);
  reg.counter("jobs_total", {{"queue", "sms"}}).increment();
  obs::snapshot s = reg.snapshot();
  const auto& f = family(s, "jobs_total");
  CHECK(f.type == obs::metric_type::counter);
  REQUIRE(f.series.size() == 2);
  CHECK(f.series[0].labels[0].value == "mail");
  CHECK(f.series[0].value.as_integer() == 5);
  CHECK(f.series[1].value.as_integer() == 1);
}

TEST_CASE("labels given in another order reach the same series") {
  obs::registry reg;
  reg.counter("req_total", {{"method", "GET"}, {"code", "200"}}).increment();
  reg.counter("req_total", {{"code", "200"}, {"method", "GET"}}).increment();
  obs::snapshot s = reg.snapshot();
  const auto& f = family(s, "req_total");
  REQUIRE(f.series.size() == 1);
  CHECK(f.series[0].value.as_integer() == 2);
  CHECK(f.series[0].labels[0].name == "method");
  CHECK(f.series[0].labels[1].name == "code");
}

TEST_CASE("bad names and clashes throw obs::error with a code") {
  obs::registry reg;
  reg.counter("jobs_total", {{"queue", "a"}});
  CHECK(error_code([&] { reg.counter("1bad"); }) == obs::errc::invalid_metric_name);
  CHECK(error_code([&] { reg.counter("bad-name"); }) == obs::errc::invalid_metric_name);
  CHECK(error_code([&] { reg.counter("ok_total", {{"bad-key", "v"}}); }) == obs::errc::invalid_label_name);
  CHECK(error_code([&] { reg.counter("ok_total", {{"__internal", "v"}}); }) == obs::errc::invalid_label_name);
  CHECK(error_code([&] { reg.histogram("h_seconds", {{"le", "1"}}); }) == obs::errc::reserved_label_name);
  CHECK(error_code([&] { reg.histogram("h_seconds", {{"quantile", "1"}}); }) == obs::errc::reserved_label_name);
  CHECK(error_code([&] { reg.counter("dup_total", {{"a", "1"}, {"a", "2"}}); }) == obs::errc::duplicate_label_name);
  CHECK(error_code([&] { reg.gauge("jobs_total", {{"queue", "a"}}); }) == obs::errc::type_mismatch);
  CHECK(error_code([&] { reg.counter("jobs_total", {{"other", "a"}}); }) == obs::errc::label_keys_mismatch);
  CHECK(error_code([&] { reg.counter("jobs_total"); }) == obs::errc::label_keys_mismatch);
  CHECK(error_code([&] { reg.counter("jobs_total", {{"queue", "a"}, {"queue", "b"}}); }) ==
        obs::errc::label_keys_mismatch);
  CHECK(error_code([&] { static_cast<void>(reg.counter_family("jobs_total", {"queue"}).with("a", "b")); }) ==
        obs::errc::label_keys_mismatch);
  CHECK(error_code([&] { reg.describe_gauge("jobs_total", "", "x"); }) == obs::errc::type_mismatch);
  std::vector<std::string> many_keys;
  for (int i = 0; i < 33; ++i) many_keys.push_back("k" + std::to_string(i));
  std::vector<std::string_view> key_views(many_keys.begin(), many_keys.end());
  CHECK(error_code([&] { reg.counter_family("wide_total", key_views); }) == obs::errc::invalid_argument);
}

TEST_CASE("an error loses nothing already recorded and leaves no half-made family") {
  obs::registry reg;
  reg.counter("jobs_total").increment(3);
  CHECK_THROWS_AS(reg.gauge("jobs_total"), obs::error);
  CHECK_THROWS_AS(reg.counter("bad name"), obs::error);
  obs::snapshot s = reg.snapshot();
  REQUIRE(s.families().size() == 1);
  CHECK(s.families()[0].series[0].value.as_integer() == 3);
}

TEST_CASE("describe gives help and unit, and checks the unit ends the name") {
  obs::registry reg;
  reg.describe_counter("sent_bytes_total", "bytes", "Bytes sent.");
  reg.describe_histogram("query_duration_seconds", "seconds", "Query latency.");
  reg.counter("sent_bytes_total").increment(10);
  reg.histogram("query_duration_seconds").record(0.1);
  obs::snapshot s = reg.snapshot();
  CHECK(family(s, "sent_bytes_total").help == "Bytes sent.");
  CHECK(family(s, "sent_bytes_total").unit == "bytes");
  CHECK(family(s, "query_duration_seconds").unit == "seconds");
  CHECK(error_code([&] { reg.describe_gauge("queue_depth", "seconds", "x"); }) == obs::errc::invalid_unit);
  CHECK(error_code([&] { reg.describe_gauge("queue_Depth", "Depth", "x"); }) == obs::errc::invalid_unit);
}

TEST_CASE("describing a name as one type and registering another throws") {
  obs::registry reg;
  reg.describe_gauge("temperature", "", "Degrees.");
  CHECK(error_code([&] { reg.counter("temperature"); }) == obs::errc::type_mismatch);
  reg.gauge("temperature").set(3);
  obs::snapshot snap_103 = reg.snapshot();
  CHECK(snap_103.find("temperature") != nullptr);
}

TEST_CASE("label values are kept as any UTF-8; invalid bytes become U+FFFD") {
  obs::registry reg;
  reg.counter("c_total", {{"v", "a \"quoted\"\\ line\nnext ünï ✓"}}).increment();
  reg.counter("c_total", {{"v", std::string_view("bad\xff\xfe", 5)}}).increment();
  reg.counter("c_total", {{"v", std::string_view("bad\xff\xfe", 5)}}).increment();
  obs::snapshot s = reg.snapshot();
  const auto& f = family(s, "c_total");
  REQUIRE(f.series.size() == 2);
  CHECK(f.series[0].labels[0].value == "a \"quoted\"\\ line\nnext ünï ✓");
  CHECK(f.series[1].labels[0].value == "bad\xef\xbf\xbd\xef\xbf\xbd");
  CHECK(f.series[1].value.as_integer() == 2);
}

TEST_CASE("snapshot order is deterministic: families by name, series by labels") {
  obs::registry reg;
  reg.gauge("zeta").set(1);
  reg.gauge("alpha", {{"k", "b"}}).set(2);
  reg.gauge("alpha", {{"k", "a"}}).set(3);
  obs::snapshot s = reg.snapshot();
  REQUIRE(s.families().size() == 2);
  CHECK(s.families()[0].name == "alpha");
  CHECK(s.families()[0].series[0].labels[0].value == "a");
  CHECK(s.families()[1].name == "zeta");
}

TEST_CASE("remove and remove_matching detach series; handles stay usable") {
  obs::registry reg;
  obs::counter alice = reg.counter("pool_queries_total", {{"database", "mydb"}, {"user", "alice"}});
  reg.counter("pool_queries_total", {{"database", "mydb"}, {"user", "bob"}}).increment();
  reg.counter("pool_queries_total", {{"database", "other"}, {"user", "bob"}}).increment();
  alice.increment(2);

  CHECK(reg.remove_matching("pool_queries_total", {{"database", "mydb"}}) == 2);
  alice.increment();  // safe: records into the detached series
  CHECK(alice.sum() == 3);
  obs::snapshot s = reg.snapshot();
  REQUIRE(family(s, "pool_queries_total").series.size() == 1);
  CHECK(family(s, "pool_queries_total").series[0].labels[0].value == "other");

  CHECK(reg.remove("pool_queries_total", {{"database", "other"}, {"user", "bob"}}));
  CHECK_FALSE(reg.remove("pool_queries_total", {{"database", "other"}, {"user", "bob"}}));
  obs::snapshot snap_147 = reg.snapshot();
  CHECK(family(snap_147, "pool_queries_total").series.empty());

  // The same labels again start a fresh series at zero.
  reg.counter("pool_queries_total", {{"database", "mydb"}, {"user", "alice"}}).increment();
  obs::snapshot snap_151 = reg.snapshot();
  CHECK(family(snap_151, "pool_queries_total").series[0].value.as_integer() == 1);
}

TEST_CASE("a family's with() finds the series a removal re-created") {
  obs::registry reg;
  auto fam = reg.counter_family("hits_total", {"database"});
  fam.with("mydb").increment(5);
  reg.remove("hits_total", {{"database", "mydb"}});
  fam.with("mydb").increment();
  obs::snapshot snap_160 = reg.snapshot();
  CHECK(family(snap_160, "hits_total").series[0].value.as_integer() == 1);
}

TEST_CASE("handles outlive their registry") {
  obs::counter c;
  obs::histogram h;
  {
    obs::registry reg;
    c = reg.counter("c_total");
    h = reg.histogram("h_seconds");
    c.increment();
  }
  c.increment();
  h.record(1);
  CHECK(c.sum() == 2);
  CHECK(h.count() == 1);
}

TEST_CASE("a default-constructed handle records into nothing visible") {
  obs::counter c;
  obs::gauge g;
  obs::histogram h;
  c.increment();
  g.set(1);
  h.record(2);
  obs::registry reg;
  obs::snapshot snap_186 = reg.snapshot();
  CHECK(snap_186.families().empty());
}

TEST_CASE("cardinality limit sends new label sets to an overflow series and counts them") {
  obs::registry reg;
  reg.set_cardinality_limit(obs::matcher::full("user_logins_total"), 3);
  auto fam = reg.counter_family("user_logins_total", {"user"});
  for (int i = 0; i < 10; ++i) fam.with("user" + std::to_string(i)).increment();
  fam.with("user1").increment();  // existing series still resolve
  obs::snapshot s = reg.snapshot();
  const auto& f = family(s, "user_logins_total");
  REQUIRE(f.series.size() == 4);
  std::uint64_t total = 0;
  for (const auto& series : f.series) total += series.value.as_integer();
  CHECK(total == 11);  // nothing dropped
  CHECK(f.series[0].labels[0].value == "__overflow__");
  CHECK(f.series[0].value.as_integer() == 7);
  const auto& overflow = family(s, "obs_cardinality_overflow_total");
  REQUIRE(overflow.series.size() == 1);
  CHECK(overflow.series[0].labels[0].name == "metric");
  CHECK(overflow.series[0].labels[0].value == "user_logins_total");
  CHECK(overflow.series[0].value.as_integer() == 7);

  // It counts label sets, not lookups: refused sets seen again add nothing.
  for (int i = 0; i < 10; ++i) fam.with("user" + std::to_string(i)).increment();
  obs::snapshot again = reg.snapshot();
  CHECK(family(again, "obs_cardinality_overflow_total").series[0].value.as_integer() == 7);

  // Removing series makes room again.
  reg.remove("user_logins_total", {{"user", "user0"}});
  fam.with("newcomer").increment();
  obs::snapshot snap_212 = reg.snapshot();
  const auto& after = family(snap_212, "user_logins_total");
  bool found = false;
  for (const auto& series : after.series) found = found || series.labels[0].value == "newcomer";
  CHECK(found);
}

TEST_CASE("idle expiry removes series whose value stopped changing") {
  obs::registry reg;
  reg.set_idle_timeout(std::chrono::milliseconds(20));
  obs::counter busy = reg.counter("work_total", {{"pool", "busy"}});
  reg.counter("work_total", {{"pool", "idle"}}).increment();
  busy.increment();
  obs::snapshot snap_224 = reg.snapshot();
  CHECK(family(snap_224, "work_total").series.size() == 2);
  std::this_thread::sleep_for(std::chrono::milliseconds(40));
  busy.increment();
  obs::snapshot snap_227 = reg.snapshot();
  CHECK(family(snap_227, "work_total").series.size() == 1);  // idle: left out
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  busy.increment();
  obs::snapshot snap_230 = reg.snapshot();
  const auto& f = family(snap_230, "work_total");
  REQUIRE(f.series.size() == 1);
  CHECK(f.series[0].labels[0].value == "busy");
}

TEST_CASE("gauge callbacks are read at snapshot time and stop when reset") {
  obs::registry reg;
  int idle = 4;
  {
    obs::callback_registration r = reg.gauge_callback(
        "db_pool_connections", {{"service", "auth"}, {"state", "idle"}}, [&] { return double(idle); });
    obs::snapshot snap_241 = reg.snapshot();
    CHECK(family(snap_241, "db_pool_connections").series[0].value.as_double() == 4);
    idle = 7;
    obs::snapshot snap_243 = reg.snapshot();
    CHECK(family(snap_243, "db_pool_connections").series[0].value.as_double() == 7);
  }
  obs::snapshot snap_245 = reg.snapshot();
  CHECK(family(snap_245, "db_pool_connections").series.empty());
}

TEST_CASE("a callback may be unregistered while another thread snapshots") {
  obs::registry reg;
  std::atomic<bool> stop{false};
  std::thread scraper([&] {
    while (!stop.load()) (void)reg.snapshot();
  });
  for (int i = 0; i < 200; ++i) {
    auto value = std::make_unique<double>(i);
    obs::callback_registration r = reg.gauge_callback("depth", {}, [v = value.get()] { return *v; });
    r.reset();
    value.reset();  // the callback must never run after reset()
  }
  stop = true;
  scraper.join();
  obs::snapshot snap_262 = reg.snapshot();
  CHECK(family(snap_262, "depth").series.empty());
}

TEST_CASE("counter callbacks export as counters") {
  obs::registry reg;
  auto r = reg.counter_callback("socket_bytes_total", {}, [] { return 1234.0; });
  obs::snapshot snap_268 = reg.snapshot();
  const auto& f = family(snap_268, "socket_bytes_total");
  CHECK(f.type == obs::metric_type::counter);
  CHECK(f.series[0].value.as_double() == 1234);
}

TEST_CASE("collectors add whole families and can be removed") {
  obs::registry reg;
  auto r = reg.add_collector([](obs::snapshot_builder& b) {
    std::string name = "custom_things";
    b.add_family(name, obs::metric_type::gauge, "Things.");
    b.add_series({{"kind", std::string("dynamic")}}, obs::number::floating(2));
  });
  obs::snapshot s = reg.snapshot();
  CHECK(family(s, "custom_things").series[0].labels[0].value == "dynamic");
  r.reset();
  obs::snapshot snap_283 = reg.snapshot();
  CHECK(snap_283.find("custom_things") == nullptr);
}

TEST_CASE("info metrics export 1 with their labels") {
  obs::registry reg;
  reg.describe_info("obs_build_info", "Version of obs.");
  reg.info("obs_build_info", {{"version", "0.1.0"}});
  obs::snapshot snap_289 = reg.snapshot();
  const auto& f = family(snap_289, "obs_build_info");
  CHECK(f.type == obs::metric_type::info);
  CHECK(f.help == "Version of obs.");
  CHECK(f.series[0].value.as_integer() == 1);
}

TEST_CASE("histogram configuration by full name, prefix and suffix") {
  obs::registry reg;
  reg.set_buckets_for_metric(obs::matcher::suffix("_seconds"), {1, 2});
  reg.set_buckets_for_metric(obs::matcher::prefix("db_"), {10, 20, 30});
  reg.set_buckets_for_metric(obs::matcher::full("db_wait_seconds"), {5});
  reg.histogram("http_seconds").record(1);
  reg.histogram("db_query_seconds").record(1);
  reg.histogram("db_wait_seconds").record(1);
  reg.histogram("other").record(1);
  obs::snapshot s = reg.snapshot();
  CHECK(family(s, "http_seconds").series[0].buckets.size() == 3);
  CHECK(family(s, "db_query_seconds").series[0].buckets.size() == 4);
  CHECK(family(s, "db_wait_seconds").series[0].buckets.size() == 2);
  CHECK(family(s, "other").series[0].buckets.size() == 12);  // Prometheus defaults + Inf
  CHECK(error_code([&] { reg.set_buckets_for_metric(obs::matcher::full("other"), {1}); }) ==
        obs::errc::already_configured);
  CHECK(error_code([&] { reg.set_buckets_for_metric(obs::matcher::full("x"), {2, 1}); }) ==
        obs::errc::invalid_buckets);
}

TEST_CASE("the global registry is one object") {
  CHECK(&obs::global_registry() == &obs::global_registry());
}

TEST_CASE("series order stays sorted as series come and go between snapshots") {
  obs::registry reg;
  auto fam = reg.gauge_family("ordered", {"k"});
  fam.with("m").set(1);
  fam.with("c").set(1);
  obs::snapshot first = reg.snapshot();
  fam.with("a").set(1);
  fam.with("z").set(1);
  reg.remove("ordered", {{"k", "m"}});
  obs::snapshot second = reg.snapshot();
  const auto& f = family(second, "ordered");
  REQUIRE(f.series.size() == 3);
  CHECK(f.series[0].labels[0].value == "a");
  CHECK(f.series[1].labels[0].value == "c");
  CHECK(f.series[2].labels[0].value == "z");
  CHECK(family(first, "ordered").series.size() == 2);
}

namespace {
std::uint64_t self_count(const obs::snapshot& s, std::string_view family_name, std::string_view label_value) {
  const obs::family_snapshot* f = s.find(family_name);
  if (!f) return 0;
  for (const auto& series : f->series)
    if (series.labels.size() == 1 && series.labels[0].value == label_value) return series.value.as_integer();
  return 0;
}
}  // namespace

TEST_CASE("a user's own __overflow__ label set is the overflow series, not a duplicate of it") {
  obs::registry reg;
  reg.set_cardinality_limit(obs::matcher::full("hits_total"), 1);
  auto fam = reg.counter_family("hits_total", {"user"});
  fam.with("__overflow__").increment(5);  // before any overflow
  fam.with("alice").increment();
  fam.with("bob").increment(2);  // over the limit
  obs::snapshot s = reg.snapshot();
  const auto& f = family(s, "hits_total");
  REQUIRE(f.series.size() == 2);
  CHECK(f.series[0].labels[0].value == "__overflow__");
  CHECK(f.series[0].value.as_integer() == 7);
  CHECK(f.series[1].labels[0].value == "alice");
}

TEST_CASE("label values that export alike are one series") {
  obs::registry reg;
  auto fam = reg.counter_family("v_total", {"v"});
  fam.with(std::string_view("\xff")).increment();
  fam.with(std::string_view("\xfe")).increment(2);
  fam.with("\xef\xbf\xbd").increment(4);  // a real U+FFFD
  obs::snapshot s = reg.snapshot();
  const auto& f = family(s, "v_total");
  REQUIRE(f.series.size() == 1);
  CHECK(f.series[0].labels[0].value == "\xef\xbf\xbd");
  CHECK(f.series[0].value.as_integer() == 7);
  CHECK(reg.remove("v_total", {{"v", std::string_view("\xfd")}}));  // found by its exported value
}

TEST_CASE("help text with invalid UTF-8 is stored sanitised") {
  obs::registry reg;
  reg.describe_counter("h_total", "", std::string_view("bad \xff help"));
  reg.counter("h_total").increment();
  obs::snapshot s = reg.snapshot();
  CHECK(family(s, "h_total").help == "bad \xef\xbf\xbd help");
}

TEST_CASE("names whose exposed samples collide are refused, naming both metrics") {
  struct clash {
    std::function<void(obs::registry&)> first, second;
  };
  const clash cases[] = {
      {[](obs::registry& r) { r.counter("x_total"); }, [](obs::registry& r) { r.gauge("x"); }},
      {[](obs::registry& r) { r.counter("x"); }, [](obs::registry& r) { r.counter("x_total"); }},
      {[](obs::registry& r) { r.histogram("lat_seconds"); }, [](obs::registry& r) { r.gauge("lat_seconds_count"); }},
      {[](obs::registry& r) { r.histogram("x_seconds"); }, [](obs::registry& r) { r.counter("x_seconds_total"); }},
      {[](obs::registry& r) { r.info("build", {{"v", "1"}}); }, [](obs::registry& r) { r.gauge("build_info"); }},
      {[](obs::registry& r) { r.gauge("lat_seconds_bucket"); }, [](obs::registry& r) { r.histogram("lat_seconds"); }},
      {[](obs::registry& r) { r.counter("jobs_total"); }, [](obs::registry& r) { r.gauge("jobs_created"); }},
  };
  for (const clash& c : cases) {
    obs::registry reg;
    c.first(reg);
    try {
      c.second(reg);
      FAIL("a colliding name was accepted");
    } catch (const obs::error& e) {
      CHECK(e.code() == obs::errc::name_conflict);
      INFO(e.what());
      CHECK(std::string(e.what()).find("' already exposes") != std::string::npos);
    }
  }
  obs::registry reg;
  CHECK(error_code([&] { reg.counter("obs_cardinality_overflow_total"); }) == obs::errc::name_conflict);
  reg.gauge("x");
  reg.gauge("x_sum");  // no collision between two gauges
  reg.counter("y_total");
  reg.gauge("y_total_other");
}

TEST_CASE("a type clash names the metric and both types") {
  obs::registry reg;
  reg.counter("jobs_total");
  try {
    reg.histogram("jobs_total");
    FAIL("no throw");
  } catch (const obs::error& e) {
    CHECK(std::string(e.what()) == "metric 'jobs_total' is registered as a counter; it cannot also be a histogram");
  }
}

TEST_CASE("le is reserved on histograms only, at run time as while compiling") {
  obs::registry reg;
  reg.counter("a_total", {{"le", "x"}}).increment();
  reg.gauge("g", {{"quantile", "x"}}).set(1);
  CHECK(error_code([&] { reg.histogram("h_seconds", {{"le", "x"}}); }) == obs::errc::reserved_label_name);
  CHECK(error_code([&] { reg.histogram("q_seconds", {{"quantile", "x"}}); }) == obs::errc::reserved_label_name);
}

TEST_CASE("idle expiry follows activity, and a series recorded into again comes back") {
  obs::registry reg;
  reg.set_idle_timeout(std::chrono::milliseconds(30));
  obs::counter rare = reg.counter("rare_errors_total");
  obs::gauge steady = reg.gauge("steady");
  rare.increment();
  steady.set(7);
  obs::snapshot first = reg.snapshot();
  CHECK(first.find("rare_errors_total")->series.size() == 1);
  // The gauge is set to the same value every 10 ms: active, never idle.
  for (int i = 0; i < 8; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    steady.set(7);
    obs::snapshot s = reg.snapshot();
    CHECK(s.find("steady")->series.size() == 1);
  }
  obs::snapshot quiet = reg.snapshot();
  CHECK(quiet.find("rare_errors_total")->series.empty());  // idle, left out
  rare.increment();
  obs::snapshot back = reg.snapshot();
  REQUIRE(back.find("rare_errors_total")->series.size() == 1);
  CHECK(back.find("rare_errors_total")->series[0].value.as_integer() == 2);  // nothing lost
}

TEST_CASE("an idle series nothing references is freed, and a lookup starts it afresh") {
  obs::registry reg;
  reg.set_idle_timeout(std::chrono::milliseconds(10));
  auto fam = reg.counter_family("churn_total", {"id"});
  std::thread([&] { fam.with("gone").increment(3); }).join();  // its lookup cache dies with it
  {
    obs::snapshot s1 = reg.snapshot();  // a live snapshot pins what it read
    CHECK(s1.find("churn_total")->series.size() == 1);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  obs::snapshot s2 = reg.snapshot();  // idle and unreferenced: freed
  CHECK(s2.find("churn_total")->series.empty());
  fam.with("gone").increment();
  obs::snapshot s3 = reg.snapshot();
  REQUIRE(s3.find("churn_total")->series.size() == 1);
  CHECK(s3.find("churn_total")->series[0].value.as_integer() == 1);
}

TEST_CASE("a macro site's series survives idle expiry") {
  obs::registry& reg = obs::global_registry();
  obs::counter site = reg.counter("registry_test_site_errors_total");
  reg.set_idle_timeout(std::chrono::milliseconds(10));
  site.increment();
  obs::snapshot s1 = reg.snapshot();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  obs::snapshot s2 = reg.snapshot();
  CHECK(s2.find("registry_test_site_errors_total")->series.empty());
  site.increment();
  obs::snapshot s3 = reg.snapshot();
  reg.set_idle_timeout(std::chrono::nanoseconds(0));
  REQUIRE(s3.find("registry_test_site_errors_total")->series.size() == 1);
  CHECK(s3.find("registry_test_site_errors_total")->series[0].value.as_integer() == 2);
}

TEST_CASE("a second callback for one series is refused, and resetting the first keeps nothing alive") {
  obs::registry reg;
  auto first = reg.gauge_callback("pool_size", {{"pool", "a"}}, [] { return 1.0; });
  CHECK(error_code([&] { auto second = reg.gauge_callback("pool_size", {{"pool", "a"}}, [] { return 2.0; }); }) ==
        obs::errc::duplicate_callback);
  obs::snapshot s1 = reg.snapshot();
  REQUIRE(family(s1, "pool_size").series.size() == 1);
  CHECK(family(s1, "pool_size").series[0].value.as_double() == 1);
  first.reset();
  auto again = reg.gauge_callback("pool_size", {{"pool", "a"}}, [] { return 3.0; });
  obs::snapshot s2 = reg.snapshot();
  REQUIRE(family(s2, "pool_size").series.size() == 1);
  CHECK(family(s2, "pool_size").series[0].value.as_double() == 3);
}

TEST_CASE("a throwing callback costs its own series, not the snapshot") {
  obs::registry reg;
  reg.counter("ok_total").increment();
  auto bad = reg.gauge_callback("flaky", {{"k", "bad"}}, []() -> double { throw std::runtime_error("down"); });
  auto good = reg.gauge_callback("flaky", {{"k", "good"}}, [] { return 4.0; });
  obs::snapshot s = reg.snapshot();
  CHECK(family(s, "ok_total").series.size() == 1);
  REQUIRE(family(s, "flaky").series.size() == 1);
  CHECK(family(s, "flaky").series[0].value.as_double() == 4);
  CHECK(self_count(s, "obs_collect_errors_total", "flaky") == 1);
}

TEST_CASE("counter callbacks that return NaN or a negative value are left out and counted") {
  obs::registry reg;
  auto nan = reg.counter_callback("read_bytes_total", {{"dev", "a"}},
                                  [] { return std::numeric_limits<double>::quiet_NaN(); });
  auto negative = reg.counter_callback("read_bytes_total", {{"dev", "b"}}, [] { return -1.0; });
  auto fine = reg.counter_callback("read_bytes_total", {{"dev", "c"}}, [] { return 10.0; });
  obs::snapshot s = reg.snapshot();
  REQUIRE(family(s, "read_bytes_total").series.size() == 1);
  CHECK(self_count(s, "obs_rejected_values_total", "read_bytes_total") == 2);
}

TEST_CASE("a throwing collector adds nothing and is counted; the rest is served") {
  obs::registry reg;
  reg.counter("ok_total").increment();
  auto bad = reg.add_collector("broken", [](obs::snapshot_builder& b) {
    b.add_family("half_made", obs::metric_type::gauge);
    b.add_series({}, obs::number::floating(1));
    throw std::runtime_error("collector failed");
  });
  auto good = reg.add_collector("fine", [](obs::snapshot_builder& b) {
    b.add_family("queue_depth", obs::metric_type::gauge);
    b.add_series({{"q", "mail"}}, obs::number::floating(3));
  });
  obs::snapshot s = reg.snapshot();
  CHECK(s.find("half_made") == nullptr);
  CHECK(s.find("queue_depth") != nullptr);
  CHECK(s.find("ok_total") != nullptr);
  CHECK(self_count(s, "obs_collect_errors_total", "broken") == 1);
  obs::snapshot s2 = reg.snapshot();
  CHECK(self_count(s2, "obs_collect_errors_total", "broken") == 2);
}

TEST_CASE("a collector's invalid families never reach a snapshot") {
  using emit = std::function<void(obs::snapshot_builder&)>;
  const emit invalid[] = {
      [](obs::snapshot_builder& b) { b.add_family("bad name", obs::metric_type::gauge); },
      [](obs::snapshot_builder& b) {
        b.add_family("g", obs::metric_type::gauge);
        b.add_series({{"__reserved", "x"}}, obs::number::floating(1));
      },
      [](obs::snapshot_builder& b) {
        b.add_family("h_seconds", obs::metric_type::histogram);
        b.add_histogram_series({{"le", "1"}}, {{1, 1}}, 1, 1);
      },
      [](obs::snapshot_builder& b) {
        b.add_family("c_total", obs::metric_type::counter);
        b.add_series({}, obs::number::floating(-1));
      },
      [](obs::snapshot_builder& b) {
        b.add_family("c_total", obs::metric_type::counter);
        b.add_series({}, obs::number::floating(std::numeric_limits<double>::quiet_NaN()));
      },
      [](obs::snapshot_builder& b) {
        b.add_family("g", obs::metric_type::gauge);
        b.add_series({{"a", "1"}}, obs::number::floating(1));
        b.add_series({{"a", "1"}}, obs::number::floating(2));
      },
      [](obs::snapshot_builder& b) {
        b.add_family("h_seconds", obs::metric_type::histogram);
        b.add_histogram_series({}, {{1, 5}, {2, 3}}, 1, 5);  // not cumulative
      },
      [](obs::snapshot_builder& b) {
        b.add_family("h_seconds", obs::metric_type::histogram);
        b.add_histogram_series({}, {{1, 1}}, -3, 1);  // negative sum, no negative bucket
      },
      [](obs::snapshot_builder& b) {
        b.add_family("s_seconds", obs::metric_type::summary);
        b.add_summary_series({}, {{1.5, 1}}, 1, 1);
      },
      [](obs::snapshot_builder& b) {
        b.add_family("i_info", obs::metric_type::info);
        b.add_series({}, obs::number::integer(2));
      },
      [](obs::snapshot_builder& b) { b.add_family("taken_total", obs::metric_type::counter); },  // registry's name
      [](obs::snapshot_builder& b) { b.add_family("taken", obs::metric_type::gauge); },  // its OpenMetrics name
  };
  for (const emit& e : invalid) {
    obs::registry reg;
    reg.counter("taken_total").increment();
    auto c = reg.add_collector("bad", e);
    obs::snapshot s = reg.snapshot();
    CHECK(s.families().size() == 2);  // taken_total and obs_collect_errors_total
    CHECK(self_count(s, "obs_collect_errors_total", "bad") == 1);
  }
  // Two collectors may not expose one name either: the second is refused.
  obs::registry reg;
  auto a = reg.add_collector("a", [](obs::snapshot_builder& b) { b.add_family("dup", obs::metric_type::gauge); });
  auto b = reg.add_collector("b", [](obs::snapshot_builder& b) { b.add_family("dup", obs::metric_type::gauge); });
  obs::snapshot s = reg.snapshot();
  CHECK(s.find("dup") != nullptr);
  CHECK(self_count(s, "obs_collect_errors_total", "b") == 1);
}

TEST_CASE("a collector's invalid UTF-8 is sanitised on the way in") {
  obs::registry reg;
  auto c = reg.add_collector([](obs::snapshot_builder& b) {
    b.add_family("g", obs::metric_type::gauge, std::string_view("help \xff"));
    b.add_series({{"v", std::string_view("\xfe")}}, obs::number::floating(1));
  });
  obs::snapshot s = reg.snapshot();
  CHECK(family(s, "g").help == "help \xef\xbf\xbd");
  CHECK(family(s, "g").series[0].labels[0].value == "\xef\xbf\xbd");
}

TEST_CASE("a family without label keys never overflows: its one series is never twinned") {
  obs::registry reg;
  reg.set_cardinality_limit(0);
  reg.gauge("queue_depth").set(1);
  reg.set_cardinality_limit(10);
  reg.gauge("queue_depth").set(2);
  obs::snapshot s = reg.snapshot();
  REQUIRE(family(s, "queue_depth").series.size() == 1);
  CHECK(family(s, "queue_depth").series[0].value.as_double() == 2);
  CHECK(s.find("obs_cardinality_overflow_total") == nullptr);
}
