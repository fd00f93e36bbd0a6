// The definition of detail::init_site (site.hpp): what every OBS_* macro
// site calls once, on its first run. Header-only, site.hpp includes this
// file; with OBS_COMPILED_LIB, src/obs.cpp compiles it once into obs::obs.
#pragma once

#include <atomic>
#include <new>
#include <utility>

#include "obs/counter.hpp"
#include "obs/detail/config.hpp"
#include "obs/detail/registration.hpp"
#include "obs/detail/series_cells.hpp"
#include "obs/detail/site.hpp"
#include "obs/family.hpp"
#include "obs/gauge.hpp"
#include "obs/histogram.hpp"

OBS_NAMESPACE_BEGIN
namespace detail {

OBS_INLINE void init_site(site_base& site) noexcept {
  // Ordering: acq_rel; one thread wins the claim, the others wait for its release of `ready_`.
  if (site.claimed_.exchange(true, std::memory_order_acq_rel)) {
    site.ready_.wait(false, std::memory_order_acquire);
    return;
  }
  void* at = site.storage_;
  if (site.is_family_) {
    family_registration r = register_family(site.kind_, site.name_, {site.keys_, site.count_});
    switch (site.kind_) {
      case value_kind::counter: ::new (at) counter_family(r.family, r.id, std::move(r.core)); break;
      case value_kind::float_counter: ::new (at) float_counter_family(r.family, r.id, std::move(r.core)); break;
      case value_kind::gauge: ::new (at) gauge_family(r.family, r.id, std::move(r.core)); break;
      default: ::new (at) histogram_family(r.family, r.id, std::move(r.core)); break;
    }
  } else {
    series_cells* s = register_series(site.kind_, site.name_, {site.labels_, site.count_});
    switch (site.kind_) {
      case value_kind::counter: ::new (at) counter(counter_ref(s)); break;
      case value_kind::float_counter: ::new (at) float_counter(float_counter_ref(s)); break;
      case value_kind::gauge: ::new (at) gauge(gauge_ref(s)); break;
      default: ::new (at) histogram(histogram_ref(s)); break;
    }
  }
  // Ordering: release; pairs with the acquire in series_site::get and family_site::get.
  site.ready_.store(true, std::memory_order_release);
  site.ready_.notify_all();
}

}  // namespace detail
OBS_NAMESPACE_END
