// Replaces the global operator new with one that counts calls; linked only
// into the exporter test binaries.
#include "counting_new.hpp"

#include <atomic>
#include <cstdlib>
#include <new>

namespace {
std::atomic<std::size_t> allocations{0};
}

std::size_t obs_test::allocation_count() noexcept {
  // Ordering: tests read the count on the thread that allocated.
  return allocations.load(std::memory_order_relaxed);
}

void* operator new(std::size_t size) {
  // Ordering: a plain tally; nothing is published through it.
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}

void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
