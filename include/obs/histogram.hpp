// obs::histogram: a distribution of observed values (latencies, sizes).
//
// A histogram family is either explicit (Prometheus buckets, the default:
// obs::default_buckets) or high-resolution (log-linear buckets that answer
// quantiles within 1% and export as a summary); the registry decides per
// metric name (registry::set_histogram_config). Either way `record` is
// lock-free and allocation-free: explicit mode is two plain adds into this
// thread's shard (bucket, sum); high-resolution mode is the same, with the
// bucket in a stripe of counts this thread owns (an atomic add when it owns
// none, see detail/histogram_layout.hpp).
//
//   obs::histogram latency = reg.histogram("db_query_duration_seconds");
//   latency.record(0.0042);
//   latency.record(std::chrono::microseconds(4200));  // as seconds
#pragma once

#include <chrono>
#include <cstdint>

#include "obs/detail/config.hpp"
#include "obs/detail/owning_handle.hpp"
#include "obs/detail/series_state.hpp"
#include "obs/detail/thread_slot.hpp"

OBS_NAMESPACE_BEGIN

/// A non-owning histogram handle. See obs::histogram.
class histogram_ref {
 public:
  explicit histogram_ref(detail::series_state* state) noexcept
      : cells_(state->cells), state_(state), layout_(state->layout) {}

  /// Records one observation. NaN counts in the top bucket and makes the sum
  /// NaN, as in other Prometheus clients. Never throws.
  void record(double v) const noexcept {
    const std::intptr_t offset = detail::current_slot_offset();
    if (!layout_->high_resolution) [[likely]] {
      detail::add_u64_at(cells_ + layout_->bucket_index(v), offset, 1);
    } else {
      record_high_resolution(v, offset);
    }
    detail::add_f64_at(cells_ + layout_->sum_cell(), offset, v);
  }

  /// Records a duration, in seconds.
  template <class Rep, class Period>
  void record(std::chrono::duration<Rep, Period> d) const noexcept {
    record(std::chrono::duration<double>(d).count());
  }

  /// Observations so far. Walks every shard and bucket.
  std::uint64_t count() const noexcept {
    std::uint64_t total = 0;
    if (layout_->high_resolution) {
      for (std::size_t i = 0; i < layout_->high_resolution_cells(); ++i)
        // Ordering: relaxed; a count may be torn across stripes.
        total += state_->high_resolution_buckets[i].load(std::memory_order_relaxed);
    } else {
      for (std::size_t i = 0; i <= layout_->bounds.size(); ++i) total += detail::sum_u64(cells_ + i);
    }
    return total;
  }

  /// Sum of observations so far. Walks every shard.
  double sum() const noexcept { return detail::sum_f64(cells_ + layout_->sum_cell()); }

 protected:
  void record_high_resolution(double v, std::intptr_t offset) const noexcept {
    const std::size_t buckets = layout_->high_resolution_buckets();
    const std::size_t index = layout_->high_resolution_index(v);
    detail::series_state::cell* counts = state_->high_resolution_buckets.get();
    // A slot offset is a multiple of page_cells; the first `stripes` slots
    // own a stripe each.
    const auto slot = static_cast<std::size_t>(offset) / detail::page_cells;
    if (offset >= 0 && slot < layout_->stripes) {
      detail::series_state::cell& count = counts[slot * buckets + index];
      // Ordering: relaxed; this thread is the stripe's only writer.
      count.store(count.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    } else {
      // Ordering: relaxed; the shared stripe needs atomicity, not ordering.
      counts[layout_->stripes * buckets + index].fetch_add(1, std::memory_order_relaxed);
    }
  }

  detail::series_state::cell* cells_;
  detail::series_state* state_;
  const detail::histogram_layout* layout_;
};

/// An owning handle to a histogram series; copies share the series.
class histogram final : public detail::owning_handle<histogram_ref> {
 public:
  using owning_handle::owning_handle;
};

OBS_NAMESPACE_END
