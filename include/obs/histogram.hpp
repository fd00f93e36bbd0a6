// obs::histogram: a distribution of observed values (latencies, sizes).
//
// A histogram family is either explicit (Prometheus buckets, the default:
// obs::default_buckets) or high-resolution (log-linear buckets that answer
// quantiles within 1% and export as a summary); the registry decides per
// metric name (registry::set_histogram_config). Either way `record` is
// lock-free and allocation-free: explicit mode is two plain adds into this
// thread's shard (bucket, sum); high-resolution mode one shared atomic add and
// one plain add.
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
      : state_(state), cells_(state->cells), layout_(state->layout) {}

  /// Records one observation. NaN counts in the top bucket and makes the sum
  /// NaN, as in other Prometheus clients. Never throws.
  void record(double v) const noexcept {
    if (!layout_->high_resolution) [[likely]] {
      detail::add_u64(cells_ + layout_->bucket_index(v), 1);
    } else {
      // Ordering: relaxed; a bucket count orders nothing else.
      state_->high_resolution_buckets[layout_->high_resolution_index(v)].fetch_add(
          1, std::memory_order_relaxed);
    }
    detail::add_f64(cells_ + layout_->sum_cell(), v);
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
      for (std::size_t i = 0; i < layout_->high_resolution_buckets(); ++i)
        total += state_->high_resolution_buckets[i].load(std::memory_order_relaxed);
    } else {
      for (std::size_t i = 0; i <= layout_->bounds.size(); ++i) total += detail::sum_u64(cells_ + i);
    }
    return total;
  }

  /// Sum of observations so far. Walks every shard.
  double sum() const noexcept { return detail::sum_f64(cells_ + layout_->sum_cell()); }

 protected:
  detail::series_state* state_;
  detail::series_state::cell* cells_;
  const detail::histogram_layout* layout_;
};

/// An owning handle to a histogram series; copies share the series.
class histogram final : public detail::owning_handle<histogram_ref> {
 public:
  using owning_handle::owning_handle;
};

OBS_NAMESPACE_END
