// obs::counter_family, gauge_family, histogram_family...: a metric with fixed
// label keys, for recording with label values known only at run time.
//
// `with(values...)` finds the series for those values (in key order) and
// returns a non-owning handle to record into. When the series exists this
// is a hash and a compare in a per-thread cache: no lock, no allocation.
// Keep an owning handle (obs::counter etc.) if you record into the same series
// often; `with` is for values that vary:
//
//   auto requests = reg.counter_family("http_requests_total", {"method", "route", "status"});
//   requests.with(method, route, status).increment();
//
// The handle `with` returns is for the same expression only; its recording
// methods compile only on a temporary. Convert it to an owning handle to keep
// it: `obs::counter c = requests.with(method, route, status);`.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <utility>

#include "obs/counter.hpp"
#include "obs/detail/config.hpp"
#include "obs/detail/core_ref.hpp"
#include "obs/detail/lookup_cache.hpp"
#include "obs/gauge.hpp"
#include "obs/histogram.hpp"

OBS_NAMESPACE_BEGIN
namespace detail {

/// The name and label keys of a family, kept by its core.
OBS_INLINE std::string_view family_name(const family_state& family) noexcept;
OBS_INLINE std::span<const std::string_view> family_keys(const family_state& family) noexcept;

template <class Ref>
class family_handle {
 public:
  /// The family `family` (whose id is `id`) of the core `core` keeps.
  family_handle(family_state* family, std::uint64_t id, core_ref core) noexcept
      : family_(family), id_(id), core_(std::move(core)) {}

  /// The series for these label values, in the family's key order. Throws
  /// obs::error if the count of values differs from the count of keys (the
  /// OBS_*_FAMILY macros check the count while compiling).
  template <class... Values>
  [[nodiscard]] Ref with(const Values&... values) const {
    std::array<std::string_view, sizeof...(Values)> views{std::string_view(values)...};
    return Ref(find_series(core_.get(), *family_, id_, views));
  }

  /// As above, with the values in a span.
  [[nodiscard]] Ref with(std::span<const std::string_view> values) const {
    return Ref(find_series(core_.get(), *family_, id_, values));
  }

  /// The metric name.
  std::string_view name() const noexcept { return family_name(*family_); }
  /// The label keys, in the order `with` takes values.
  std::span<const std::string_view> label_keys() const noexcept { return family_keys(*family_); }

 private:
  family_state* family_;
  std::uint64_t id_;  ///< `family_->id`, read on every lookup
  core_ref core_;     ///< keeps the family's storage alive
};

}  // namespace detail

/// A u64 counter with runtime label values. See the header comment.
class counter_family final : public detail::family_handle<counter_ref> {
 public:
  using family_handle::family_handle;
};

/// A floating-point counter with runtime label values.
class float_counter_family final : public detail::family_handle<float_counter_ref> {
 public:
  using family_handle::family_handle;
};

/// A gauge with runtime label values.
class gauge_family final : public detail::family_handle<gauge_ref> {
 public:
  using family_handle::family_handle;
};

/// A histogram with runtime label values.
class histogram_family final : public detail::family_handle<histogram_ref> {
 public:
  using family_handle::family_handle;
};

OBS_NAMESPACE_END

#if OBS_HEADER_ONLY
#include "obs/detail/core-inl.hpp"
#endif
