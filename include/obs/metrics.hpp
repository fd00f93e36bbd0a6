// The recording facade: OBS_COUNTER, OBS_GAUGE, OBS_HISTOGRAM and their
// _FAMILY forms, plus obs::describe_*, all on obs::global_registry().
//
// In the spirit of Rust's `metrics` crate, a call site names its metric and
// labels and records in one expression:
//
//   OBS_COUNTER("pgcache_queries_total", "status", "cache_hit").increment();
//   OBS_HISTOGRAM("pgcache_query_duration_seconds", "source", "cache").record(elapsed);
//   OBS_GAUGE("pgcache_connections_active").set(n);
//
// Labels given to OBS_COUNTER/GAUGE/HISTOGRAM must be literals (checked while
// compiling, with the names): the call site resolves its series once and
// keeps an owning handle in a function-local static (detail/site.hpp), so
// every later call is a flag check plus the handle's plain add. For label
// values known only at run time, name the keys and pass the values to `with`,
// a per-thread cached lookup that does not allocate when the series exists:
//
//   OBS_COUNTER_FAMILY("http_requests_total", "method", "route", "status")
//       .with(method, route, status).increment();
//
// A macro never throws: see detail::init_site. With OBS_DISABLE defined
// to 1 every macro becomes a statement that type-checks its arguments and
// those of the recording call after it, and evaluates none of them (so it
// cannot be used as an expression, e.g. to initialise a variable).
#pragma once

#include <string_view>

#include "obs/counter.hpp"
#include "obs/detail/config.hpp"
#include "obs/detail/disabled.hpp"
#include "obs/detail/registration.hpp"
#include "obs/detail/site.hpp"
#include "obs/detail/static_key.hpp"
#include "obs/family.hpp"
#include "obs/gauge.hpp"
#include "obs/histogram.hpp"

#if OBS_DISABLE

// A statement whose body never runs: the recording call that follows the
// macro is type-checked, and neither it nor its arguments are evaluated.
#define OBS_DETAIL_SITE(handle, kind, disabled, ...)                                                         \
  for (static_cast<void>(sizeof(::obs::detail::make_static_key<::obs::detail::site_kind::kind>({__VA_ARGS__}))); \
       false;)                                                                                               \
  ::obs::detail::disabled {}
#define OBS_DETAIL_FAMILY_SITE(family, kind, disabled, ...)                                                  \
  for (static_cast<void>(sizeof(::obs::detail::make_family_key<::obs::detail::site_kind::kind>({__VA_ARGS__}))); \
       false;)                                                                                               \
  ::obs::detail::disabled_family<::obs::detail::disabled> {}

#else

// The lambda gives each call site its own statics: the key, checked while
// compiling, and the site (detail/site.hpp), constant-initialised.
#define OBS_DETAIL_SITE(handle, kind, disabled, ...)                                                      \
  ([]() -> const ::obs::handle& {                                                                         \
    static constexpr auto obs_key_ =                                                                      \
        ::obs::detail::make_static_key<::obs::detail::site_kind::kind>({__VA_ARGS__});                    \
    static constinit ::obs::detail::series_site<::obs::handle> obs_site_{obs_key_.name, obs_key_.labels.data(), \
                                                                         obs_key_.labels.size()};         \
    return obs_site_.get();                                                                               \
  }())
#define OBS_DETAIL_FAMILY_SITE(family, kind, disabled, ...)                                               \
  ([]() -> const auto& {                                                                                  \
    static constexpr auto obs_key_ =                                                                      \
        ::obs::detail::make_family_key<::obs::detail::site_kind::kind>({__VA_ARGS__});                    \
    static constinit ::obs::detail::family_site<::obs::family, obs_key_.keys.size()> obs_site_{           \
        obs_key_.name, obs_key_.keys.data()};                                                             \
    return obs_site_.get();                                                                               \
  }())

#endif

/// A u64 counter: OBS_COUNTER("name", "key", "value", ...). Literal labels only.
#define OBS_COUNTER(...) OBS_DETAIL_SITE(counter, plain, disabled_counter, __VA_ARGS__)
/// A floating-point counter, e.g. for `*_seconds_total`.
#define OBS_FLOAT_COUNTER(...) OBS_DETAIL_SITE(float_counter, plain, disabled_float_counter, __VA_ARGS__)
/// A gauge: OBS_GAUGE("name", "key", "value", ...).
#define OBS_GAUGE(...) OBS_DETAIL_SITE(gauge, plain, disabled_gauge, __VA_ARGS__)
/// A histogram: OBS_HISTOGRAM("name", "key", "value", ...).
#define OBS_HISTOGRAM(...) OBS_DETAIL_SITE(histogram, histogram, disabled_histogram, __VA_ARGS__)

/// A counter family: OBS_COUNTER_FAMILY("name", "key1", "key2").with(v1, v2).
#define OBS_COUNTER_FAMILY(...) OBS_DETAIL_FAMILY_SITE(counter_family, plain, disabled_counter, __VA_ARGS__)
#define OBS_FLOAT_COUNTER_FAMILY(...) \
  OBS_DETAIL_FAMILY_SITE(float_counter_family, plain, disabled_float_counter, __VA_ARGS__)
#define OBS_GAUGE_FAMILY(...) OBS_DETAIL_FAMILY_SITE(gauge_family, plain, disabled_gauge, __VA_ARGS__)
#define OBS_HISTOGRAM_FAMILY(...) \
  OBS_DETAIL_FAMILY_SITE(histogram_family, histogram, disabled_histogram, __VA_ARGS__)

OBS_NAMESPACE_BEGIN

/// HELP text and unit for a counter of the global registry; like Rust's
/// `describe_counter!`. `unit` ("seconds", "bytes", ...) may be empty.
inline void describe_counter(std::string_view name, std::string_view unit, std::string_view help) {
  detail::describe_global(metric_type::counter, name, unit, help);
}
inline void describe_gauge(std::string_view name, std::string_view unit, std::string_view help) {
  detail::describe_global(metric_type::gauge, name, unit, help);
}
inline void describe_histogram(std::string_view name, std::string_view unit, std::string_view help) {
  detail::describe_global(metric_type::histogram, name, unit, help);
}
inline void describe_info(std::string_view name, std::string_view help) {
  detail::describe_global(metric_type::info, name, {}, help);
}

OBS_NAMESPACE_END

#if OBS_HEADER_ONLY
#include "obs/detail/core-inl.hpp"
#endif
