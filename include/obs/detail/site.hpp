// detail::series_site and detail::family_site: what an OBS_* macro keeps in
// its call site's function-local static, the handle (or family) it
// registered on the global registry the first time it ran.
//
// A site is constant-initialised (`static constinit`): it holds its name and
// labels from the start, and no compiler-generated guard protects it. Its
// first call registers it through detail::init_site (site-inl.hpp), one
// function for every site, compiled once by obs::obs, so a call site
// compiles to the check of one flag, the recording path, and one call with
// one argument on a cold branch. The handle is built in place and never
// destroyed, so a site records safely from static destructors too, and
// registers no destructor at exit.
//
// Thread safety / memory ordering: the first caller to claim a site
// registers it and publishes the handle with a release store of `ready_`;
// other threads that reach the site meanwhile wait for that store. Every
// later call is an acquire load of `ready_`, which sees the handle's fields
// fully written.
#pragma once

#include <atomic>
#include <cstddef>
#include <new>
#include <string_view>
#include <type_traits>

#include "obs/counter.hpp"
#include "obs/detail/config.hpp"
#include "obs/detail/series_cells.hpp"
#include "obs/family.hpp"
#include "obs/gauge.hpp"
#include "obs/histogram.hpp"
#include "obs/label.hpp"

OBS_NAMESPACE_BEGIN
namespace detail {

/// The state of one macro call site; the typed series_site and family_site
/// give access to what it holds.
struct site_base {
  /// The size of the largest handle or family a site holds.
  static constexpr std::size_t storage_size = sizeof(histogram) > sizeof(counter_family) ? sizeof(histogram)
                                                                                           : sizeof(counter_family);

  constexpr site_base(bool is_family, value_kind kind, std::string_view name, const label_view* labels,
                      const std::string_view* keys, std::size_t count) noexcept
      : is_family_(is_family), kind_(kind), name_(name), labels_(labels), keys_(keys), count_(count) {}

  /// Set, with release, once `storage_` holds the handle; what every call checks.
  std::atomic<bool> ready_{false};
  /// Set by the thread that registers the site; later comers wait for `ready_`.
  std::atomic<bool> claimed_{false};
  bool is_family_;  ///< holds a family (keys) rather than a series handle (labels)
  value_kind kind_;  ///< which handle or family
  alignas(histogram) alignas(counter_family) unsigned char storage_[storage_size]{};
  std::string_view name_;
  const label_view* labels_;      ///< `count_` labels of a series site
  const std::string_view* keys_;  ///< `count_` label keys of a family site
  std::size_t count_;
};

/// Registers `site` on the global registry and builds its handle or family
/// in its storage, once, however many threads call it; returns when the
/// site is ready. Never throws: a refused registration leaves a handle that
/// records nowhere visible (see register_series and register_family).
OBS_INLINE void init_site(site_base& site) noexcept;

/// The value_kind of a handle or family type.
template <class T>
constexpr value_kind kind_of() noexcept {
  if constexpr (std::is_same_v<T, counter> || std::is_same_v<T, counter_family>)
    return value_kind::counter;
  else if constexpr (std::is_same_v<T, float_counter> || std::is_same_v<T, float_counter_family>)
    return value_kind::float_counter;
  else if constexpr (std::is_same_v<T, gauge> || std::is_same_v<T, gauge_family>)
    return value_kind::gauge;
  else
    return value_kind::histogram;
}

/// The site of OBS_COUNTER, OBS_FLOAT_COUNTER, OBS_GAUGE or OBS_HISTOGRAM:
/// `Handle` for the series `name{labels}`.
template <class Handle>
class series_site : public site_base {
 public:
  constexpr series_site(std::string_view name, const label_view* labels, std::size_t count) noexcept
      : site_base(false, kind_of<Handle>(), name, labels, nullptr, count) {}

  /// The handle, registered on the first call.
  const Handle& get() noexcept {
    // Ordering: acquire; pairs with init_site's release, so the handle is seen whole.
    if (!ready_.load(std::memory_order_acquire)) [[unlikely]] init_site(*this);
    return *std::launder(reinterpret_cast<const Handle*>(storage_));
  }
};

/// The site of an OBS_*_FAMILY macro: `Family` named `name` with `Keys` label
/// keys, whose `with` checks the count of values while compiling.
template <class Family, std::size_t Keys>
class family_site : public site_base {
 public:
  constexpr family_site(std::string_view name, const std::string_view* keys) noexcept
      : site_base(true, kind_of<Family>(), name, nullptr, keys, Keys) {}

  /// This site, its family registered on the first call.
  const family_site& get() noexcept {
    // Ordering: acquire, as in series_site::get.
    if (!ready_.load(std::memory_order_acquire)) [[unlikely]] init_site(*this);
    return *this;
  }

  /// The series for these label values; see family_handle::with.
  template <class... Values>
  [[nodiscard]] auto with(const Values&... values) const {
    static_assert(sizeof...(Values) == Keys, "with() takes one value per label key of the family");
    return family().with(values...);
  }

  /// The family, once get() has returned.
  const Family& family() const noexcept { return *std::launder(reinterpret_cast<const Family*>(storage_)); }
};

}  // namespace detail
OBS_NAMESPACE_END

#if OBS_HEADER_ONLY
#include "obs/detail/core-inl.hpp"
#include "obs/detail/site-inl.hpp"
#endif
