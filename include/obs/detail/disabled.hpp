// What the OBS_* macros return when OBS_DISABLE is 1: handles with the same
// recording methods that do nothing and compile away.
#pragma once

#include <cstdint>

#include "obs/detail/config.hpp"
#include "obs/exemplar.hpp"

OBS_NAMESPACE_BEGIN

class counter;
class counter_ref;
class float_counter;
class float_counter_ref;
class gauge;
class gauge_ref;
class histogram;
class histogram_ref;

namespace detail {

// Each takes the real handle it stands for and drops it, so a cold file can
// fill a metrics struct from the registry whether or not OBS_DISABLE is set.
struct disabled_counter {
  constexpr disabled_counter() noexcept = default;
  constexpr disabled_counter(const counter&) noexcept {}
  constexpr disabled_counter(const counter_ref&) noexcept {}
  constexpr void increment(std::uint64_t = 1) const noexcept {}
  constexpr void increment(std::uint64_t, const exemplar&) const noexcept {}
  constexpr void absolute(std::uint64_t) const noexcept {}
};

struct disabled_float_counter {
  constexpr disabled_float_counter() noexcept = default;
  constexpr disabled_float_counter(const float_counter&) noexcept {}
  constexpr disabled_float_counter(const float_counter_ref&) noexcept {}
  constexpr void increment(double) const noexcept {}
};

struct disabled_gauge {
  constexpr disabled_gauge() noexcept = default;
  constexpr disabled_gauge(const gauge&) noexcept {}
  constexpr disabled_gauge(const gauge_ref&) noexcept {}
  constexpr void set(double) const noexcept {}
  constexpr void increment(double = 1) const noexcept {}
  constexpr void decrement(double = 1) const noexcept {}
};

struct disabled_histogram {
  constexpr disabled_histogram() noexcept = default;
  constexpr disabled_histogram(const histogram&) noexcept {}
  constexpr disabled_histogram(const histogram_ref&) noexcept {}
  constexpr void record(double) const noexcept {}
  constexpr void record(double, const exemplar&) const noexcept {}
  template <class Duration>
    requires requires(Duration d) { d.count(); }
  constexpr void record(Duration) const noexcept {}
  template <class Duration>
    requires requires(Duration d) { d.count(); }
  constexpr void record(Duration, const exemplar&) const noexcept {}
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
