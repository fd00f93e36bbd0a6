// The allocation figures BENCHMARKS.md states, as exact checks: every
// recording path the benchmarks time allocates nothing once its series exists,
// and a snapshot + render of the benchmark's 11,000 series stays within 100
// allocations. Counts, not times: zero is exact on any machine.
#include "obs/metrics.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdlib>
#include <new>
#include <string>

#include "obs/json.hpp"
#include "obs/openmetrics.hpp"
#include "obs/prometheus.hpp"

namespace {
thread_local std::uint64_t tls_allocations = 0;

/// Allocations made by this thread while running `f`.
template <class F>
std::uint64_t allocations_in(F&& f) {
  std::uint64_t before = tls_allocations;
  f();
  return tls_allocations - before;
}
}  // namespace

// Not inlined: GCC would otherwise pair the malloc inside `new` with the free
// inside `delete` at each call site and warn about a mismatch.
[[gnu::noinline]] void* operator new(std::size_t size) {
  ++tls_allocations;
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void* operator new[](std::size_t size) { return ::operator new(size); }
[[gnu::noinline]] void* operator new(std::size_t size, std::align_val_t align) {
  ++tls_allocations;
  auto a = static_cast<std::size_t>(align);
  if (void* p = std::aligned_alloc(a, (size + a - 1) / a * a)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void* operator new[](std::size_t size, std::align_val_t align) { return ::operator new(size, align); }
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

TEST_CASE("the allocation counter sees allocations") {
  // Guards every zero below against a counter that never counts. A volatile
  // pointer, so the optimiser cannot elide the pair.
  CHECK(allocations_in([] {
          void* volatile p = ::operator new(16);
          ::operator delete(p);
        }) == 1);
}

TEST_CASE("recording into an existing series never allocates") {
  obs::registry reg;
  reg.set_histogram_config(obs::matcher::full("alloc_highres_seconds"), obs::histogram_config::high_resolution());
  obs::counter counter = reg.counter("alloc_handle_total", {{"site", "handle"}});
  obs::counter_family family = reg.counter_family("alloc_labels_total", {"method", "route"});
  obs::gauge gauge = reg.gauge("alloc_gauge");
  obs::histogram explicit_histogram = reg.histogram("alloc_explicit_seconds");
  obs::histogram high_resolution = reg.histogram("alloc_highres_seconds");
  const std::string method = "GET", route = "/api/v1/users/{id}-beyond-the-small-string-buffer";

  auto record_all = [&] {
    OBS_COUNTER("alloc_macro_total", "site", "literal").increment();
    OBS_COUNTER_FAMILY("alloc_macro_labels_total", "method", "route").with(method, route).increment();
    counter.increment();
    family.with(method, route).increment();
    gauge.set(1.5);
    gauge.increment();
    explicit_histogram.record(0.042);
    high_resolution.record(0.042);
  };
  record_all();  // creates the series, takes this thread's slot

  CHECK(allocations_in([&] {
          for (int i = 0; i < 1000; ++i) record_all();
        }) == 0);
  CHECK(counter.sum() == 1001);
  CHECK(family.with(method, route).sum() == 1001);
  CHECK(explicit_histogram.count() == 1001);
  CHECK(high_resolution.count() == 1001);
}

TEST_CASE("snapshot + render of 11,000 series stays within 100 allocations") {
  obs::registry reg;
  for (int m = 0; m < 10; ++m) {
    obs::counter_family f = reg.counter_family("app_requests_" + std::to_string(m) + "_total", {"route", "status"});
    for (int i = 0; i < 1000; ++i) f.with("/api/v1/resource/" + std::to_string(i), "200").increment();
  }
  obs::histogram_family h = reg.histogram_family("app_request_duration_seconds", {"route"});
  for (int i = 0; i < 1000; ++i) h.with("/api/v1/resource/" + std::to_string(i)).record(0.1);

  std::string text;
  std::uint64_t prometheus = allocations_in([&] { text = obs::prometheus::render(reg.snapshot()); });
  std::uint64_t openmetrics = allocations_in([&] { text = obs::openmetrics::render(reg.snapshot()); });
  std::uint64_t json = allocations_in([&] { text = obs::json::render(reg.snapshot()); });
  CHECK(prometheus <= 100);
  CHECK(openmetrics <= 100);
  CHECK(json <= 100);
  CHECK(text.size() > 1000000);  // the render really covered the series
}
