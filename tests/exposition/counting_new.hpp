// Counts heap allocations, so tests can pin down how many a render makes.
#pragma once

#include <cstddef>

namespace obs_test {

/// Allocations made through the global operator new since program start.
std::size_t allocation_count() noexcept;

}  // namespace obs_test
