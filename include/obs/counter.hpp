// obs::counter and obs::float_counter: monotonic totals (requests served,
// bytes sent, seconds spent).
//
// `increment` is a plain add into this thread's shard of the series: no lock,
// no hash, no heap allocation, no locked instruction. Reading the total walks
// every shard, so the reader pays, never the recorder. Use `counter` for
// counts (u64, exact, saturating at 2^64 - 1 instead of wrapping) and
// `float_counter` for totals like seconds:
//
//   obs::counter served = reg.counter("http_requests_total", {{"route", "/"}});
//   served.increment();
//
// The `_ref` types are what a family's `with()` returns: usable only in the
// expression that produced them (`fam.with(v).increment()`), because the
// series they name may be expired and its cells recycled once the
// expression ends. To keep one, convert it: `obs::counter c = fam.with(v);`.
#pragma once

#include <atomic>
#include <cstdint>

#include "obs/detail/config.hpp"
#include "obs/detail/owning_handle.hpp"
#include "obs/detail/series_cells.hpp"
#include "obs/detail/thread_slot.hpp"
#include "obs/exemplar.hpp"

OBS_NAMESPACE_BEGIN
namespace detail {

/// Raises the u64 counter `s` to `value` if it is below. Raises of one
/// series are serialised, so two racing raises to 100 reach 100, not 200;
/// increments do not wait.
inline void raise_u64(series_cells* s, std::uint64_t value) noexcept {
  series_write_lock lock(s);
  std::uint64_t current = sum_u64(s->cells);
  if (value > current) add_u64(s->cells, value - current);
}

/// Keeps `e` as the exemplar of counter `s`, for an increment by `v`; out of
/// line (it reads the clock). See obs/exemplar.hpp.
OBS_INLINE void keep_counter_exemplar(series_cells* s, double v, const exemplar& e) noexcept;

/// Adds `v` to a float counter unless it is negative or NaN, which a counter
/// cannot hold; those are counted in the family's rejected values instead.
inline void add_counter_f64(series_cells* s, series_cells::cell* cells, double v) noexcept {
  if (!(v >= 0)) [[unlikely]] {
    // Ordering: relaxed; a statistic.
    s->refused->values.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  add_f64(cells, v);
}

}  // namespace detail

/// What a counter family's `with()` returns: record in the same expression,
/// `fam.with(v).increment()`, or convert it to an obs::counter to keep it.
class counter_ref {
 public:
  explicit counter_ref(detail::series_cells* state) noexcept : state_(state) {}

  /// Adds `n` (default 1). Lock-free, allocation-free, never throws.
  void increment(std::uint64_t n = 1) const&& noexcept { detail::add_u64(state_->cells, n); }
  /// Adds `n` and keeps `e` as the counter's exemplar (see obs::counter).
  void increment(std::uint64_t n, const exemplar& e) const&& noexcept {
    detail::add_u64(state_->cells, n);
    detail::keep_counter_exemplar(state_, static_cast<double>(n), e);
  }
  /// Raises the counter to `value` if it is below. Walks every shard.
  void absolute(std::uint64_t value) const&& noexcept { detail::raise_u64(state_, value); }
  // A kept ref may name a recycled series: keep an obs::counter instead.
  void increment(std::uint64_t n = 1) const& = delete;
  void increment(std::uint64_t n, const exemplar& e) const& = delete;
  void absolute(std::uint64_t value) const& = delete;

 private:
  friend class counter;
  detail::series_cells* state_;
};

/// An owning handle to a u64 counter series; copies share the series.
class counter final : detail::series_handle {
 public:
  counter() noexcept = default;
  /// Keeps the series `ref` names.
  counter(const counter_ref& ref) noexcept : series_handle(ref.state_) {}  // NOLINT: implicit by design

  /// Adds `n` (default 1). Lock-free, allocation-free, never throws.
  void increment(std::uint64_t n = 1) const noexcept { detail::add_u64(cells_, n); }

  /// Adds `n` and keeps `e`, e.g. `{{"trace_id", id}}`, as the counter's
  /// exemplar (obs/exemplar.hpp). Lock-free; the series' first exemplar
  /// allocates its slot, later ones nothing. Costs a clock read and a copy
  /// of the labels on top of increment().
  void increment(std::uint64_t n, const exemplar& e) const noexcept {
    detail::add_u64(cells_, n);
    detail::keep_counter_exemplar(state_, static_cast<double>(n), e);
  }
  /// Raises the counter to `value` if it is below, like Rust metrics'
  /// `absolute`. Walks every shard; racing calls are serialised.
  void absolute(std::uint64_t value) const noexcept { detail::raise_u64(state_, value); }
  /// The total over all shards. Walks every shard.
  std::uint64_t sum() const noexcept { return detail::sum_u64(cells_); }
};

/// What a float counter family's `with()` returns; see counter_ref.
class float_counter_ref {
 public:
  explicit float_counter_ref(detail::series_cells* state) noexcept : state_(state) {}

  /// Adds `v`; a negative or NaN `v` is refused and counted (see float_counter).
  void increment(double v) const&& noexcept { detail::add_counter_f64(state_, state_->cells, v); }
  // A kept ref may name a recycled series: keep an obs::float_counter instead.
  void increment(double v) const& = delete;

 private:
  friend class float_counter;
  detail::series_cells* state_;
};

/// An owning handle to a floating-point counter series (seconds-valued
/// totals and the like).
class float_counter final : detail::series_handle {
 public:
  float_counter() noexcept = default;
  /// Keeps the series `ref` names.
  float_counter(const float_counter_ref& ref) noexcept : series_handle(ref.state_) {}  // NOLINT: implicit by design

  /// Adds `v`. Counters only go up: a negative or NaN `v` is not added but
  /// counted in `obs_rejected_values_total{metric="..."}`. Lock-free,
  /// allocation-free, never throws.
  void increment(double v) const noexcept { detail::add_counter_f64(state_, cells_, v); }
  /// The total over all shards. Walks every shard.
  double sum() const noexcept { return detail::sum_f64(cells_); }
};

OBS_NAMESPACE_END

#if OBS_HEADER_ONLY
#include "obs/detail/core-inl.hpp"
#endif
