#include "obs/family.hpp"

#include <catch2/catch.hpp>

#include <string>

#include "obs/registry.hpp"

TEST_CASE("with() resolves runtime values to one series per label set") {
  obs::registry reg;
  obs::counter_family requests = reg.counter_family("http_requests_total", {"method", "route", "status"});
  std::string method = "GET";
  for (int i = 0; i < 3; ++i) requests.with(method, "/api/organizations", "200").increment();
  requests.with(std::string("POST"), std::string_view("/x"), "500").increment();
  obs::snapshot snap_15 = reg.snapshot();
  const obs::family_snapshot* f = snap_15.find("http_requests_total");
  REQUIRE(f->series.size() == 2);
  CHECK(f->series[0].labels[0].value == "GET");
  CHECK(f->series[0].value.as_integer() == 3);
  CHECK(requests.label_keys().size() == 3);
  CHECK(requests.name() == "http_requests_total");
}

TEST_CASE("values that hash alike stay apart") {
  obs::registry reg;
  auto fam = reg.counter_family("pairs_total", {"a", "b"});
  fam.with("ab", "c").increment();
  fam.with("a", "bc").increment(2);
  obs::snapshot snap_28 = reg.snapshot();
  const obs::family_snapshot* f = snap_28.find("pairs_total");
  REQUIRE(f->series.size() == 2);
}

TEST_CASE("thousands of label sets survive lookup-cache eviction") {
  obs::registry reg;
  auto fam = reg.counter_family("many_total", {"id"});
  for (int round = 0; round < 3; ++round)
    for (int i = 0; i < 2000; ++i) fam.with(std::to_string(i)).increment();
  obs::snapshot snap_37 = reg.snapshot();
  const obs::family_snapshot* f = snap_37.find("many_total");
  REQUIRE(f->series.size() == 2000);
  for (const auto& s : f->series) CHECK(s.value.as_integer() == 3);
}

TEST_CASE("the handle with() returns converts to an owning one") {
  obs::registry reg;
  auto fam = reg.histogram_family("db_query_duration_seconds", {"type"});
  obs::histogram kept = fam.with("select");
  reg.remove("db_query_duration_seconds", {{"type", "select"}});
  for (int i = 0; i < 1000; ++i) fam.with(std::to_string(i)).record(1);  // churn the cache
  kept.record(0.5);
  CHECK(kept.count() == 1);
}

TEST_CASE("gauge and float counter families") {
  obs::registry reg;
  reg.gauge_family("channel_queue_depth", {"type"}).with("outbound").set(5);
  reg.float_counter_family("busy_seconds_total", {"worker"}).with("1").increment(0.5);
  obs::snapshot s = reg.snapshot();
  CHECK(s.find("channel_queue_depth")->series[0].value.as_double() == 5);
  CHECK(s.find("busy_seconds_total")->series[0].value.as_double() == 0.5);
}

TEST_CASE("values differing in one byte, at any position and length, are distinct series") {
  obs::registry reg;
  auto fam = reg.counter_family("bytes_total", {"v"});
  std::size_t expected = 0;
  for (std::size_t length = 0; length <= 20; ++length) {
    std::string base(length, 'a');
    fam.with(base).increment();
    ++expected;
    for (std::size_t pos = 0; pos < length; ++pos) {
      std::string changed = base;
      changed[pos] = 'b';
      fam.with(changed).increment();
      fam.with(changed).increment();
      ++expected;
    }
  }
  obs::snapshot snap = reg.snapshot();
  const obs::family_snapshot* f = snap.find("bytes_total");
  REQUIRE(f->series.size() == expected);
  for (const auto& s : f->series) {
    bool all_a = s.labels[0].value.find('b') == std::string_view::npos;
    CHECK(s.value.as_integer() == (all_a ? 1u : 2u));
  }
}
