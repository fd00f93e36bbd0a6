// obs::counter and obs::float_counter: monotonic totals (requests served,
// bytes sent, seconds spent).
//
// `increment` is a plain add into this thread's shard of the series: no lock,
// no hash, no heap allocation, no locked instruction. Reading the total walks
// every shard, so the reader pays, never the recorder. Use `counter` for
// counts (u64, exact) and `float_counter` for totals like seconds:
//
//   obs::counter served = reg.counter("http_requests_total", {{"route", "/"}});
//   served.increment();
//
// The `_ref` types are the same handles without ownership: what a family's
// `with()` returns, cheap to pass around, valid while the series is referenced
// elsewhere. Convert one to an owning handle to keep it.
#pragma once

#include <cstdint>

#include "obs/detail/config.hpp"
#include "obs/detail/owning_handle.hpp"
#include "obs/detail/series_state.hpp"
#include "obs/detail/thread_slot.hpp"

OBS_NAMESPACE_BEGIN

/// A non-owning counter handle. See obs::counter.
class counter_ref {
 public:
  explicit counter_ref(detail::series_state* state) noexcept : state_(state), cells_(state->cells) {}

  /// Adds `n` (default 1). Lock-free, allocation-free, never throws.
  void increment(std::uint64_t n = 1) const noexcept { detail::add_u64(cells_, n); }

  /// Raises the counter to `value` if it is below; like Rust metrics'
  /// `absolute`. Walks every shard.
  void absolute(std::uint64_t value) const noexcept {
    std::uint64_t current = sum();
    if (value > current) increment(value - current);
  }

  /// The total over all shards. Walks every shard.
  std::uint64_t sum() const noexcept { return detail::sum_u64(cells_); }

 protected:
  detail::series_state* state_;
  detail::series_state::cell* cells_;
};

/// An owning handle to a u64 counter series; copies share the series.
class counter final : public detail::owning_handle<counter_ref> {
 public:
  using owning_handle::owning_handle;
};

/// A non-owning float counter handle. See obs::float_counter.
class float_counter_ref {
 public:
  explicit float_counter_ref(detail::series_state* state) noexcept
      : state_(state), cells_(state->cells) {}

  /// Adds `v`, which should be >= 0 (counters only go up). Lock-free,
  /// allocation-free, never throws.
  void increment(double v) const noexcept { detail::add_f64(cells_, v); }

  /// The total over all shards. Walks every shard.
  double sum() const noexcept { return detail::sum_f64(cells_); }

 protected:
  detail::series_state* state_;
  detail::series_state::cell* cells_;
};

/// An owning handle to a floating-point counter series (seconds-valued
/// totals and the like).
class float_counter final : public detail::owning_handle<float_counter_ref> {
 public:
  using owning_handle::owning_handle;
};

OBS_NAMESPACE_END
