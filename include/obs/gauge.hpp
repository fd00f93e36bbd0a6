// obs::gauge: a value that goes up and down (connections open, queue depth).
//
// A gauge is one atomic double per series: `set` is a single store,
// `increment`/`decrement` an atomic add. Unlike counters it is not sharded,
// because `set` must win over every earlier write:
//
//   obs::gauge depth = reg.gauge("channel_queue_depth", {{"type", "outbound"}});
//   depth.set(42);
//
// For a value you can compute on demand (a pool's size), prefer a callback
// gauge (registry::gauge_callback): it costs nothing until scraped.
#pragma once

#include "obs/detail/config.hpp"
#include "obs/detail/owning_handle.hpp"
#include "obs/detail/series_state.hpp"

OBS_NAMESPACE_BEGIN

/// A non-owning gauge handle. See obs::gauge.
class gauge_ref {
 public:
  explicit gauge_ref(detail::series_state* state) noexcept : state_(state) {}

  /// Sets the value. Never throws.
  void set(double v) const noexcept {
    // Ordering: relaxed; a gauge orders nothing else.
    state_->gauge_value.store(v, std::memory_order_relaxed);
  }
  /// Adds `v` (default 1).
  void increment(double v = 1) const noexcept {
    // Ordering: relaxed, as in set.
    state_->gauge_value.fetch_add(v, std::memory_order_relaxed);
  }
  /// Subtracts `v` (default 1).
  void decrement(double v = 1) const noexcept {
    // Ordering: relaxed, as in set.
    state_->gauge_value.fetch_sub(v, std::memory_order_relaxed);
  }
  /// The current value.
  double value() const noexcept { return state_->gauge_value.load(std::memory_order_relaxed); }

 protected:
  detail::series_state* state_;
};

/// An owning handle to a gauge series; copies share the series.
class gauge final : public detail::owning_handle<gauge_ref> {
 public:
  using owning_handle::owning_handle;
};

OBS_NAMESPACE_END
