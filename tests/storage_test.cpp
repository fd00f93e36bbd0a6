// Where cells live (detail/cell_arena.hpp): memory follows the threads that
// record, not the slot count. ctest runs this file with OBS_THREAD_SLOTS=256,
// the slot count of a 64-core machine, where cells committed for every slot
// would cost each 11-bucket histogram series 256 x 13 x 8 bytes = 26 KiB.
#include "obs/registry.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <string>
#include <thread>
#include <vector>

#include "support/resident_memory.hpp"

namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool sanitized = true;
#elif defined(__has_feature)
constexpr bool sanitized = __has_feature(address_sanitizer) || __has_feature(thread_sanitizer);
#else
constexpr bool sanitized = false;
#endif

// Resident memory, after handing free heap memory back to the OS where it
// can be, so that reusing what an earlier case freed hides less.
std::size_t resident_bytes() {
#ifdef __GLIBC__
  ::malloc_trim(0);
#endif
  const std::size_t bytes = obs_test::resident_bytes();
  REQUIRE(bytes > 0);
  return bytes;
}

std::string id(int i) { return "series-" + std::to_string(i); }

std::uint64_t value_of(const obs::snapshot& s, std::string_view name, const std::string& label) {
  const obs::family_snapshot* f = s.find(name);
  REQUIRE(f != nullptr);
  for (const auto& series : f->series)
    if (series.labels[0].value == label) return series.value.as_integer();
  FAIL("no series " << label);
  return 0;
}

/// The resident memory each of `count` new series of `family` costs, each
/// kept by a handle and recorded into once by `record`. A warm-up series
/// first takes this thread's slot and the family's first arena page.
template <class Handle, class Family, class Record>
std::size_t resident_bytes_per_series(Family& family, int count, Record record) {
  std::vector<Handle> handles;
  handles.reserve(static_cast<std::size_t>(count));
  std::vector<std::string> names;
  for (int i = 0; i < count; ++i) names.push_back(id(i));
  record(Handle(family.with("warm-up")));

  const std::size_t before = resident_bytes();
  for (const std::string& name : names) {
    handles.push_back(family.with(name));
    record(handles.back());
  }
  return (resident_bytes() - before) / static_cast<std::size_t>(count);
}

}  // namespace

// First in the file: ctest runs each case in a process of its own, and a
// run of the whole binary should measure this one before any case frees
// memory it could reuse.
TEST_CASE("a counter series costs no more resident memory than prometheus-cpp's") {
  constexpr int series = 20000;
  obs::registry reg;
  reg.set_cardinality_limit(2 * series);
  obs::counter_family family = reg.counter_family("storage_test_total", {"id"});
  const std::size_t per_series =
      resident_bytes_per_series<obs::counter>(family, series, [](const obs::counter& c) { c.increment(); });
  // prometheus-cpp's counter with one label costs 232 to 268 bytes
  // (bench/memory_rss); obs's is one allocation of state and values, an
  // index entry, a sorted-list entry and one cell, about 215 bytes.
  // Sanitizers add shadow memory and redzones to every allocation.
  UNSCOPED_INFO("resident bytes per series: " << per_series);
  CHECK(per_series <= (sanitized ? 4096 : 232));
}

TEST_CASE("slots that never record into a series cost it no resident memory") {
  constexpr int series = 20000;
  obs::registry reg;
  reg.set_cardinality_limit(2 * series);
  obs::histogram_family family = reg.histogram_family("storage_test_seconds", {"id"});
  const std::size_t per_series =
      resident_bytes_per_series<obs::histogram>(family, series, [](const obs::histogram& h) { h.record(0.042); });
  // One recording thread: 13 cells of one slot (104 bytes) and the series'
  // metadata, about 320 bytes in all; the bound leaves room for sanitizers'
  // shadow memory, and is a sixth of what 257 committed slots would cost.
  CHECK(per_series < 4096);
  UNSCOPED_INFO("resident bytes per series: " << per_series);
  const obs::snapshot s = reg.snapshot();
  CHECK(s.find("storage_test_seconds")->series.size() == series + 1);
}

TEST_CASE("sums are exact across arena pages and slots taken while scraping") {
  // 1,500 counters span three arena pages; 12 threads take slots as they
  // start, while a scraper sums whatever slots have been taken so far.
  constexpr int series = 1500;
  constexpr int threads = 12;
  constexpr int rounds = 20;
  obs::registry reg;
  reg.set_cardinality_limit(2 * series);
  obs::counter_family family = reg.counter_family("storage_test_total", {"id"});
  std::vector<obs::counter> counters;
  for (int i = 0; i < series; ++i) counters.push_back(family.with(id(i)));

  std::atomic<bool> stop{false};
  std::thread scraper([&] {
    while (!stop.load()) static_cast<void>(reg.snapshot());
  });
  std::vector<std::thread> recorders;
  for (int t = 0; t < threads; ++t)
    recorders.emplace_back([&] {
      for (int r = 0; r < rounds; ++r)
        for (obs::counter& c : counters) c.increment();
    });
  for (std::thread& t : recorders) t.join();
  stop = true;
  scraper.join();

  const obs::snapshot s = reg.snapshot();
  for (int i = 0; i < series; i += 97) CHECK(value_of(s, "storage_test_total", id(i)) == threads * rounds);
  CHECK(value_of(s, "storage_test_total", id(series - 1)) == threads * rounds);
}

TEST_CASE("a series made where a removed one was starts at zero in every slot written") {
  obs::registry reg;
  obs::counter_family family = reg.counter_family("storage_test_reused_total", {"id"});
  // Several threads write the first series, so several slots hold values.
  // It is looked up on a thread of its own, whose lookup cache lets go of it
  // when the thread ends, so that only the registry and `first` hold it.
  std::thread([&] {
    obs::counter first = family.with("first");
    std::vector<std::thread> writers;
    for (int t = 0; t < 4; ++t) writers.emplace_back([&] { first.increment(5); });
    for (std::thread& t : writers) t.join();
  }).join();
  REQUIRE(reg.remove("storage_test_reused_total", {{"id", "first"}}));
  // Nothing refers to it now, so its cell went back to the arena, and the
  // next series of one cell is made in it.
  obs::counter second = family.with("second");
  const obs::snapshot s = reg.snapshot();
  CHECK(value_of(s, "storage_test_reused_total", "second") == 0);
  second.increment();
  CHECK(value_of(reg.snapshot(), "storage_test_reused_total", "second") == 1);
}
