// obs::counter_handle and its kin: the handles a service's metrics struct
// holds. They follow OBS_DISABLE as the OBS_* macros do: the real handles
// normally, and with OBS_DISABLE=1 handles whose recording compiles away.
// And obs::handles(): one handle per value of a label known up front; and
// obs::counter_family_handle and its kin for labels whose values are known
// only at run time (`m.requests.with(route).increment()`, one lookup).
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
// A family handle records once the cold file has assigned it the registry's
// family; before that, like an unfilled handle, into nothing.
//
// OBS_DISABLE must be the same in every file that sees one struct: it
// changes the struct's members.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>
#include <utility>

#include "obs/counter.hpp"
#include "obs/detail/config.hpp"
#include "obs/detail/disabled.hpp"
#include "obs/family.hpp"
#include "obs/gauge.hpp"
#include "obs/histogram.hpp"

OBS_NAMESPACE_BEGIN

#if OBS_DISABLE
namespace detail {

// Takes the registry's family and drops it, as the disabled handles do.
template <class Family, class Handle>
struct disabled_family_handle : disabled_family<Handle> {
  constexpr disabled_family_handle() noexcept = default;
  constexpr disabled_family_handle(const Family&) noexcept {}
};

}  // namespace detail

using counter_handle = detail::disabled_counter;
using float_counter_handle = detail::disabled_float_counter;
using gauge_handle = detail::disabled_gauge;
using histogram_handle = detail::disabled_histogram;
using counter_family_handle = detail::disabled_family_handle<counter_family, detail::disabled_counter>;
using float_counter_family_handle = detail::disabled_family_handle<float_counter_family, detail::disabled_float_counter>;
using gauge_family_handle = detail::disabled_family_handle<gauge_family, detail::disabled_gauge>;
using histogram_family_handle = detail::disabled_family_handle<histogram_family, detail::disabled_histogram>;
#else
namespace detail {

// A registry's families have no empty state; a metrics struct needs one, to
// exist before its cold file fills it.
template <class Family>
class assignable_family {
 public:
  assignable_family() noexcept = default;
  assignable_family(Family family) noexcept : family_(std::move(family)), assigned_(true) {}

  /// The family's series for these label values: see Family::with. Before
  /// a family is assigned, the unbound series, which records nowhere, as an
  /// unfilled handle does.
  template <class... Values>
  [[nodiscard]] auto with(const Values&... values) const {
    using ref = decltype(family_.with(values...));
    if (!assigned_) [[unlikely]] return ref(unbound_series());
    return family_.with(values...);
  }

 private:
  Family family_{nullptr, 0, core_ref()};
  bool assigned_ = false;
};

}  // namespace detail

/// A counter as a metrics struct holds it: obs::counter, or a no-op with OBS_DISABLE=1.
using counter_handle = counter;
/// A float counter as a metrics struct holds it.
using float_counter_handle = float_counter;
/// A gauge as a metrics struct holds it.
using gauge_handle = gauge;
/// A histogram as a metrics struct holds it.
using histogram_handle = histogram;
/// A counter family as a metrics struct holds it: `with(values...)` as
/// obs::counter_family's, or a no-op with OBS_DISABLE=1.
using counter_family_handle = detail::assignable_family<counter_family>;
/// A float counter family as a metrics struct holds it.
using float_counter_family_handle = detail::assignable_family<float_counter_family>;
/// A gauge family as a metrics struct holds it.
using gauge_family_handle = detail::assignable_family<gauge_family>;
/// A histogram family as a metrics struct holds it.
using histogram_family_handle = detail::assignable_family<histogram_family>;
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
