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

#include <atomic>

#include "obs/detail/config.hpp"
#include "obs/detail/owning_handle.hpp"
#include "obs/detail/series_cells.hpp"

OBS_NAMESPACE_BEGIN
namespace detail {

// Every write also marks the gauge touched, so idle expiry sees activity
// even when the value stays the same.
// Ordering: relaxed throughout; a gauge orders nothing else.
inline void gauge_set(series_cells* s, double v) noexcept {
  s->gauge_value.store(v, std::memory_order_relaxed);
  s->touched.store(true, std::memory_order_relaxed);
}
inline void gauge_add(series_cells* s, double v) noexcept {
  s->gauge_value.fetch_add(v, std::memory_order_relaxed);
  s->touched.store(true, std::memory_order_relaxed);
}

}  // namespace detail

/// What a gauge family's `with()` returns: record in the same expression,
/// or convert it to an obs::gauge to keep it (see obs::counter_ref).
class gauge_ref {
 public:
  explicit gauge_ref(detail::series_cells* state) noexcept : state_(state) {}

  void set(double v) const&& noexcept { detail::gauge_set(state_, v); }
  void increment(double v = 1) const&& noexcept { detail::gauge_add(state_, v); }
  void decrement(double v = 1) const&& noexcept { detail::gauge_add(state_, -v); }
  // A kept ref may name a recycled series: keep an obs::gauge instead.
  void set(double v) const& = delete;
  void increment(double v = 1) const& = delete;
  void decrement(double v = 1) const& = delete;

 private:
  friend class gauge;
  detail::series_cells* state_;
};

/// An owning handle to a gauge series; copies share the series.
class gauge final : detail::series_handle {
 public:
  gauge() noexcept = default;
  /// Keeps the series `ref` names.
  gauge(const gauge_ref& ref) noexcept : series_handle(ref.state_) {}  // NOLINT: implicit by design

  /// Sets the value. Never throws.
  void set(double v) const noexcept { detail::gauge_set(state_, v); }
  /// Adds `v` (default 1).
  void increment(double v = 1) const noexcept { detail::gauge_add(state_, v); }
  /// Subtracts `v` (default 1).
  void decrement(double v = 1) const noexcept { detail::gauge_add(state_, -v); }
  /// The current value.
  double value() const noexcept {
    // Ordering: relaxed, as in set.
    return state_->gauge_value.load(std::memory_order_relaxed);
  }
};

OBS_NAMESPACE_END

#if OBS_HEADER_ONLY
#include "obs/detail/core-inl.hpp"
#endif
