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
// caches an owning handle in a function-local static, so every later call is
// a guard check plus the handle's plain add. For label values known only at
// run time, name the keys and pass the values to `with`, a per-thread cached
// lookup that does not allocate when the series exists:
//
//   OBS_COUNTER_FAMILY("http_requests_total", "method", "route", "status")
//       .with(method, route, status).increment();
//
// With OBS_DISABLE defined to 1 every macro becomes a do-nothing handle; its
// arguments are still type-checked, never evaluated.
#pragma once

#include <string_view>

#include "obs/detail/config.hpp"
#include "obs/detail/disabled.hpp"
#include "obs/detail/static_key.hpp"
#include "obs/registry.hpp"

#if OBS_DISABLE

#define OBS_DETAIL_SITE(handle, disabled, ...) \
  (static_cast<void>(sizeof(::obs::detail::make_static_key(__VA_ARGS__))), ::obs::detail::disabled{})
#define OBS_DETAIL_FAMILY_SITE(family, disabled, ...)                           \
  (static_cast<void>(sizeof(::obs::detail::make_family_key(__VA_ARGS__))), \
   ::obs::detail::disabled_family<::obs::detail::disabled>{})

#else

#define OBS_DETAIL_SITE(handle, disabled, ...)                                                   \
  ([]() -> const ::obs::handle& {                                                                \
    static constexpr auto obs_key_ = ::obs::detail::make_static_key(__VA_ARGS__);                \
    static const ::obs::handle obs_site_ =                                                       \
        ::obs::global_registry().handle(obs_key_.name, obs_key_.label_span());                   \
    return obs_site_;                                                                            \
  }())
#define OBS_DETAIL_FAMILY_SITE(family, disabled, ...)                                            \
  ([]() -> const ::obs::family& {                                                                \
    static constexpr auto obs_key_ = ::obs::detail::make_family_key(__VA_ARGS__);                \
    static const ::obs::family obs_site_ =                                                       \
        ::obs::global_registry().family(obs_key_.name, obs_key_.key_span());                     \
    return obs_site_;                                                                            \
  }())

#endif

/// A u64 counter: OBS_COUNTER("name", "key", "value", ...). Literal labels only.
#define OBS_COUNTER(...) OBS_DETAIL_SITE(counter, disabled_counter, __VA_ARGS__)
/// A floating-point counter, e.g. for `*_seconds_total`.
#define OBS_FLOAT_COUNTER(...) OBS_DETAIL_SITE(float_counter, disabled_float_counter, __VA_ARGS__)
/// A gauge: OBS_GAUGE("name", "key", "value", ...).
#define OBS_GAUGE(...) OBS_DETAIL_SITE(gauge, disabled_gauge, __VA_ARGS__)
/// A histogram: OBS_HISTOGRAM("name", "key", "value", ...).
#define OBS_HISTOGRAM(...) OBS_DETAIL_SITE(histogram, disabled_histogram, __VA_ARGS__)

/// A counter family: OBS_COUNTER_FAMILY("name", "key1", "key2").with(v1, v2).
#define OBS_COUNTER_FAMILY(...) OBS_DETAIL_FAMILY_SITE(counter_family, disabled_counter, __VA_ARGS__)
#define OBS_FLOAT_COUNTER_FAMILY(...) \
  OBS_DETAIL_FAMILY_SITE(float_counter_family, disabled_float_counter, __VA_ARGS__)
#define OBS_GAUGE_FAMILY(...) OBS_DETAIL_FAMILY_SITE(gauge_family, disabled_gauge, __VA_ARGS__)
#define OBS_HISTOGRAM_FAMILY(...) OBS_DETAIL_FAMILY_SITE(histogram_family, disabled_histogram, __VA_ARGS__)

OBS_NAMESPACE_BEGIN

/// HELP text and unit for a counter of the global registry; like Rust's
/// `describe_counter!`. `unit` ("seconds", "bytes", ...) may be empty.
inline void describe_counter(std::string_view name, std::string_view unit, std::string_view help) {
  global_registry().describe_counter(name, unit, help);
}
inline void describe_gauge(std::string_view name, std::string_view unit, std::string_view help) {
  global_registry().describe_gauge(name, unit, help);
}
inline void describe_histogram(std::string_view name, std::string_view unit, std::string_view help) {
  global_registry().describe_histogram(name, unit, help);
}
inline void describe_info(std::string_view name, std::string_view help) {
  global_registry().describe_info(name, help);
}

OBS_NAMESPACE_END
