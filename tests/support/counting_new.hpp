// Counts heap allocations, so tests can prove a path allocates nothing (or
// pin down how few). Link tests/support/counting_new.cpp into the binary: it
// replaces every form of the global operator new and delete.
#pragma once

#include <cstddef>

namespace obs_test {

/// Allocations this thread made since it started. Counts are per thread so
/// that counting adds no shared write to the code being measured.
std::size_t thread_allocation_count() noexcept;

/// Allocations this thread makes while running `f`.
template <class F>
std::size_t allocations_in(F&& f) {
  std::size_t before = thread_allocation_count();
  f();
  return thread_allocation_count() - before;
}

}  // namespace obs_test
