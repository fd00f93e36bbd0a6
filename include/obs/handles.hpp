// obs::counter_handle and its kin: the handles a service's metrics struct
// holds. They follow OBS_DISABLE as the OBS_* macros do: the real handles
// normally, and with OBS_DISABLE=1 handles whose recording compiles away.
// And obs::handles(): one handle per value of a label known up front.
//
// A service keeps its handles in a struct that hot files reach through this
// light header, and fills it once in a cold file that includes
// <obs/registry.hpp>:
//
//   // metrics.hpp
//   struct proxy_metrics {
//     std::array<obs::counter_handle, 5> queries;   // by status, an enum's order
//     obs::histogram_handle lookup_seconds;
//   };
//   // metrics.cpp
//   m.lookup_seconds = reg.histogram("pgcache_cache_lookup_seconds");
//   m.queries = obs::handles<obs::counter_handle>(reg.counter_family("pgcache_queries_total", {"status"}),
//                                                 {"cache_hit", "cache_miss", "uncacheable", "unsupported", "parse_error"});
//   // a hot file
//   m.queries[index(outcome)].increment();   // a plain add; nothing with OBS_DISABLE=1
//
// OBS_DISABLE must be the same in every file that sees one struct: it
// changes the struct's members.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

#include "obs/counter.hpp"
#include "obs/detail/config.hpp"
#include "obs/detail/disabled.hpp"
#include "obs/gauge.hpp"
#include "obs/histogram.hpp"

OBS_NAMESPACE_BEGIN

#if OBS_DISABLE
using counter_handle = detail::disabled_counter;
using float_counter_handle = detail::disabled_float_counter;
using gauge_handle = detail::disabled_gauge;
using histogram_handle = detail::disabled_histogram;
#else
/// A counter as a metrics struct holds it: obs::counter, or a no-op with OBS_DISABLE=1.
using counter_handle = counter;
/// A float counter as a metrics struct holds it.
using float_counter_handle = float_counter;
/// A gauge as a metrics struct holds it.
using gauge_handle = gauge;
/// A histogram as a metrics struct holds it.
using histogram_handle = histogram;
#endif

/// The series of `family` for each of `values` (its only label), in their
/// order, as handles of type Handle: one lookup each, here, and none while
/// recording. `family` is any family of the registry (counter_family, ...).
template <class Handle, class Family, std::size_t N>
std::array<Handle, N> handles(const Family& family, const std::array<std::string_view, N>& values) {
  std::array<Handle, N> out;
  for (std::size_t i = 0; i < N; ++i) out[i] = Handle(family.with(values[i]));
  return out;
}

/// As above, with the values written in place: handles<H>(fam, {"a", "b"}).
template <class Handle, class Family, std::size_t N>
std::array<Handle, N> handles(const Family& family, const std::string_view (&values)[N]) {
  std::array<std::string_view, N> copy;
  for (std::size_t i = 0; i < N; ++i) copy[i] = values[i];
  return handles<Handle>(family, copy);
}

OBS_NAMESPACE_END
