// Proves the recording paths allocate nothing, by counting every call to the
// global allocation functions. Zero is exact, so this is no timing test.
#include "obs/metrics.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

namespace {
std::atomic<long> allocations{0};
}

void* operator new(std::size_t n) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new(std::size_t n, std::align_val_t a) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  std::size_t align = static_cast<std::size_t>(a);
  if (void* p = std::aligned_alloc(align, (n + align - 1) / align * align)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t a) { return operator new(n, a); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

namespace {

template <class F>
long allocations_during(F&& record) {
  record();  // first use: resolves the call site and takes a thread slot
  long before = allocations.load();
  for (int i = 0; i < 1000; ++i) record();
  return allocations.load() - before;
}

}  // namespace

TEST_CASE("the allocation counter sees allocations") {
  CHECK(allocations_during([] { std::string s(100, 'x'); (void)s; }) >= 1000);
}

TEST_CASE("recording through a literal call site allocates nothing") {
  CHECK(allocations_during([] { OBS_COUNTER("alloc_test_total", "status", "hit").increment(); }) == 0);
  CHECK(allocations_during([] { OBS_GAUGE("alloc_test_gauge").set(1); }) == 0);
  CHECK(allocations_during([] { OBS_HISTOGRAM("alloc_test_seconds").record(0.1); }) == 0);
}

TEST_CASE("recording through held handles allocates nothing") {
  obs::registry reg;
  reg.set_histogram_config(obs::matcher::full("hr_seconds"), obs::histogram_config::high_resolution());
  obs::counter c = reg.counter("c_total");
  obs::float_counter f = reg.float_counter("f_seconds_total");
  obs::gauge g = reg.gauge("g");
  obs::histogram h = reg.histogram("h_seconds");
  obs::histogram hr = reg.histogram("hr_seconds");
  CHECK(allocations_during([&] { c.increment(); }) == 0);
  CHECK(allocations_during([&] { f.increment(0.5); }) == 0);
  CHECK(allocations_during([&] { g.increment(); }) == 0);
  CHECK(allocations_during([&] { h.record(0.2); }) == 0);
  CHECK(allocations_during([&] { hr.record(0.2); }) == 0);
}

TEST_CASE("runtime label values of an existing series resolve without allocating") {
  obs::registry reg;
  auto fam = reg.counter_family("http_requests_total", {"method", "route"});
  std::string method = "GET", route = "/api/organizations";
  CHECK(allocations_during([&] { fam.with(method, route).increment(); }) == 0);
  CHECK(allocations_during([&] {
          OBS_COUNTER_FAMILY("alloc_test_requests_total", "method", "route").with(method, route).increment();
        }) == 0);
  auto hist = reg.histogram_family("redis_command_duration_seconds", {"command"});
  CHECK(allocations_during([&] { hist.with(method).record(0.001); }) == 0);
}

TEST_CASE("a lookup-cache miss on an existing series allocates nothing either") {
  obs::registry reg;
  auto fam = reg.counter_family("many_total", {"id"});
  std::vector<std::string> ids;
  for (int i = 0; i < 1024; ++i) ids.push_back(std::to_string(i));
  for (const auto& id : ids) fam.with(id).increment();  // create all, then cycle through the cache
  long before = allocations.load();
  for (int round = 0; round < 3; ++round)
    for (const auto& id : ids) fam.with(id).increment();
  CHECK(allocations.load() - before == 0);
}

TEST_CASE("a thread's first recording allocates nothing") {
  obs::registry reg;
  obs::counter c = reg.counter("first_total");
  long counted = -1;
  std::thread([&] {
    long before = allocations.load();
    c.increment();
    counted = allocations.load() - before;
  }).join();
  CHECK(counted == 0);
}
