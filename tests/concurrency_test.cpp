// Exact totals under many recording threads while another thread snapshots
// continuously, threads that exit mid-way, and concurrent lookups and
// removals. Run under the tsan preset in CI.
#include "obs/registry.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace {

// More threads than exclusive slots exercises the shared-slot path too.
constexpr int recording_threads = 24;
constexpr int per_thread = 20000;

struct scraper {
  obs::registry& reg;
  std::atomic<bool> stop{false};
  std::atomic<int> snapshots{0};
  std::thread thread{[this] {
    while (!stop.load()) {
      obs::snapshot s = reg.snapshot();
      snapshots.fetch_add(1);
    }
  }};
  ~scraper() {
    stop = true;
    thread.join();
  }
};

}  // namespace

TEST_CASE("counters are exact under many threads while scraping") {
  obs::registry reg;
  obs::counter shared = reg.counter("shared_total");
  obs::float_counter seconds = reg.float_counter("busy_seconds_total");
  obs::histogram latency = reg.histogram("latency_seconds");
  {
    scraper s{reg};
    std::vector<std::thread> threads;
    for (int t = 0; t < recording_threads; ++t)
      threads.emplace_back([&] {
        for (int i = 0; i < per_thread; ++i) {
          shared.increment();
          seconds.increment(0.5);
          latency.record(0.01 * (i % 7));
        }
      });
    for (auto& t : threads) t.join();
    CHECK(s.snapshots.load() > 0);
  }
  constexpr std::uint64_t total = std::uint64_t{recording_threads} * per_thread;
  obs::snapshot snap = reg.snapshot();
  CHECK(snap.find("shared_total")->series[0].value.as_integer() == total);
  CHECK(snap.find("busy_seconds_total")->series[0].value.as_double() == 0.5 * total);
  CHECK(snap.find("latency_seconds")->series[0].count == total);
}

TEST_CASE("threads that exit mid-way lose nothing, and their slots are reused") {
  obs::registry reg;
  obs::counter c = reg.counter("waves_total");
  scraper s{reg};
  for (int wave = 0; wave < 10; ++wave) {
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
      threads.emplace_back([&] {
        for (int i = 0; i < 1000; ++i) c.increment();
      });
    for (auto& t : threads) t.join();
  }
  CHECK(c.sum() == 80000);
}

TEST_CASE("runtime-label lookups, creation and removal race safely") {
  obs::registry reg;
  auto fam = reg.counter_family("pool_events_total", {"pool"});
  std::atomic<bool> stop{false};
  std::thread remover([&] {
    while (!stop.load()) reg.remove_matching("pool_events_total", {{"pool", "doomed"}});
  });
  std::atomic<std::uint64_t> kept{0};
  {
    scraper s{reg};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
      threads.emplace_back([&, t] {
        for (int i = 0; i < 5000; ++i) {
          fam.with("pool" + std::to_string(t % 4)).increment();
          fam.with("doomed").increment();
        }
        kept.fetch_add(5000);
      });
    for (auto& t : threads) t.join();
  }
  stop = true;
  remover.join();
  std::uint64_t sum = 0;
  obs::snapshot snap = reg.snapshot();
  for (const auto& series : snap.find("pool_events_total")->series)
    if (series.labels[0].value != "doomed") sum += series.value.as_integer();
  CHECK(sum == kept.load());
}

TEST_CASE("gauges and high-resolution histograms under contention") {
  obs::registry reg;
  reg.set_histogram_config(obs::matcher::full("hr_seconds"), obs::histogram_config::high_resolution());
  obs::gauge g = reg.gauge("in_flight");
  obs::histogram h = reg.histogram("hr_seconds");
  {
    scraper s{reg};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
      threads.emplace_back([&] {
        for (int i = 0; i < 10000; ++i) {
          g.increment();
          h.record(0.001 * (1 + i % 100));
          g.decrement();
        }
      });
    for (auto& t : threads) t.join();
  }
  CHECK(g.value() == 0);
  CHECK(h.count() == 80000);
}

TEST_CASE("idle expiry racing recording loses nothing a handle holds") {
  obs::registry reg;
  reg.set_idle_timeout(std::chrono::microseconds(200));
  auto fam = reg.counter_family("expiring_total", {"worker"});
  constexpr int workers = 4;
  constexpr int rounds = 2000;
  std::vector<obs::counter> kept;
  for (int w = 0; w < workers; ++w) kept.push_back(fam.with(std::to_string(w)));
  {
    scraper s{reg};
    std::vector<std::thread> threads;
    for (int w = 0; w < workers; ++w)
      threads.emplace_back([&, w] {
        const std::string id = std::to_string(w);
        for (int i = 0; i < rounds; ++i) {
          fam.with(id).increment();
          kept[static_cast<std::size_t>(w)].increment();
          fam.with("transient" + std::to_string(i % 7)).increment();  // freed and re-created meanwhile
          if (i % 100 == 0) std::this_thread::sleep_for(std::chrono::microseconds(300));
        }
      });
    for (std::thread& t : threads) t.join();
  }
  for (int w = 0; w < workers; ++w) CHECK(kept[static_cast<std::size_t>(w)].sum() == 2 * rounds);
  reg.set_idle_timeout(std::chrono::nanoseconds(0));
  for (const obs::counter& c : kept) c.increment();  // back in the next snapshot
  obs::snapshot snap = reg.snapshot();
  std::size_t found = 0;
  for (const obs::series_snapshot& series : snap.find("expiring_total")->series)
    if (series.labels[0].value.size() == 1) {
      CHECK(series.value.as_integer() == 2 * rounds + 1);
      ++found;
    }
  CHECK(found == workers);
}
