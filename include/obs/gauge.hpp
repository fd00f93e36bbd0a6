// obs::gauge: a value that goes up and down (connections open, queue depth).
//
//   obs::gauge depth = reg.gauge("channel_queue_depth", {{"type", "outbound"}});
//   depth.set(42);
//   in_flight.increment(); ... in_flight.decrement();
//
// `increment`/`decrement` add into this thread's shard of the series, as a
// counter does (no locked instruction: an in-flight gauge moved by every
// request costs as little at 16 threads as at one); `set` is a
// compare-exchange and two stores.
//
// A set racing adds on other threads: `set(v)` followed by adds ends at
// exactly v plus those adds; an add that overlaps the set counts either
// before it (overwritten) or after it (added), never half. Of two racing
// sets one wins whole. Reading (`value()`, snapshots) walks every slot that
// ever recorded.
//
// For a value you can compute on demand (a pool's size), prefer a callback
// gauge (registry::gauge_callback): it costs nothing until scraped.
#pragma once

#include "obs/detail/config.hpp"
#include "obs/detail/gauge_cells.hpp"
#include "obs/detail/owning_handle.hpp"
#include "obs/detail/series_cells.hpp"

OBS_NAMESPACE_BEGIN

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
  /// The current value; walks every slot that ever recorded.
  double value() const noexcept { return detail::gauge_read(state_); }
};

OBS_NAMESPACE_END

#if OBS_HEADER_ONLY
#include "obs/detail/core-inl.hpp"
#endif
