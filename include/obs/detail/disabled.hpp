// What the OBS_* macros return when OBS_DISABLE is 1: handles with the same
// recording methods that do nothing and compile away.
#pragma once

#include <cstdint>

#include "obs/detail/config.hpp"

OBS_NAMESPACE_BEGIN
namespace detail {

struct disabled_counter {
  constexpr void increment(std::uint64_t = 1) const noexcept {}
  constexpr void absolute(std::uint64_t) const noexcept {}
};

struct disabled_float_counter {
  constexpr void increment(double) const noexcept {}
};

struct disabled_gauge {
  constexpr void set(double) const noexcept {}
  constexpr void increment(double = 1) const noexcept {}
  constexpr void decrement(double = 1) const noexcept {}
};

struct disabled_histogram {
  constexpr void record(double) const noexcept {}
  template <class Duration>
    requires requires(Duration d) { d.count(); }
  constexpr void record(Duration) const noexcept {}
};

template <class Handle>
struct disabled_family {
  template <class... Values>
  constexpr Handle with(const Values&...) const noexcept {
    return {};
  }
};

}  // namespace detail
OBS_NAMESPACE_END
