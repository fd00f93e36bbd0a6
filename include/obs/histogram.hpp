// obs::histogram: a distribution of observed values (latencies, sizes).
//
// A histogram family has explicit buckets (Prometheus's classic ones, the
// default: obs::default_buckets), native buckets (Prometheus's exponential
// ones, exported as a native histogram or, high-resolution, as a summary), or
// both; the registry decides per metric name (registry::set_histogram_config).
// Either way `record` is lock-free: explicit mode is two plain adds into this
// thread's shard (bucket, sum); native mode is the same, with the bucket in
// a stripe of counts this thread owns (an atomic add when it owns none, see
// detail/exponential_buckets.hpp). Only the first value in a power of two
// allocates (its page of counts); every later record allocates nothing.
//
//   obs::histogram latency = reg.histogram("db_query_duration_seconds");
//   latency.record(0.0042);
//   latency.record(std::chrono::microseconds(4200));  // as seconds
#pragma once

#include <cstdint>

#include "obs/detail/config.hpp"
#include "obs/detail/owning_handle.hpp"
#include "obs/detail/histogram_buckets.hpp"
#include "obs/detail/series_cells.hpp"
#include "obs/detail/thread_slot.hpp"
#include "obs/exemplar.hpp"

OBS_NAMESPACE_BEGIN
namespace detail {

/// A std::chrono::duration, recognised without including <chrono> (which
/// would cost every instrumented file its compile time).
template <class D>
concept duration = requires(D d) {
  d.count();
  D::period::num;
  D::period::den;
};

/// `d` in seconds, as std::chrono::duration<double>(d).count() computes it.
template <duration D>
constexpr double seconds(D d) noexcept {
  return static_cast<double>(d.count()) * static_cast<double>(D::period::num) / static_cast<double>(D::period::den);
}

/// Counts `v` in the native buckets of `s`; false if memory for a new page ran out.
inline bool record_native(const series_cells* s, const histogram_buckets* layout, double v,
                          std::intptr_t offset) noexcept {
  // A slot offset is a multiple of page_cells; the first `stripes` slots
  // own a stripe each.
  const auto slot = static_cast<std::size_t>(offset) / page_cells;
  const bool exclusive = offset >= 0 && slot < layout->scheme.stripes;
  return record_exponential(s->exponential_stripes, exclusive ? slot : layout->scheme.stripes, exclusive,
                            layout->scheme, v);
}

/// Keeps `e` as an exemplar of histogram `s` for value `v`, if `v` was
/// recorded; out of line (it reads the clock). See obs/exemplar.hpp.
OBS_INLINE void keep_histogram_exemplar(series_cells* s, double v, const exemplar& e) noexcept;

/// Every case of record_histogram but the common one: a value refused, a
/// native histogram, a thread without a slot yet or in the shared
/// slot, a value the bucket lookup cannot place. Out of line, so that the
/// common case needs no stack frame.
/// `j` is histogram_buckets::lookup_offset(v), which the common case computed.
OBS_INLINE void record_histogram_slow(series_cells* s, series_cells::cell* cells, const histogram_buckets* layout,
                                      double v, std::uint64_t j) noexcept;

/// Records `v` into histogram series `s`, or counts it as rejected when the
/// histogram cannot hold it (see obs::histogram::record). The common case,
/// an explicit histogram recorded into from an exclusive slot, is a table
/// lookup, one compare and two plain adds into this thread's cells. Always
/// inline, with the handle's record(): g++ kept them out of line at call
/// sites it judged cold, a call and a return on top of that case's ~20
/// instructions. `s` by reference, since only the slow path reads it: passed
/// by value, it was loaded before the first branch.
[[gnu::always_inline]] inline void record_histogram(series_cells* const& s, series_cells::cell* cells,
                                                   const histogram_buckets* layout, double v) noexcept {
  const std::intptr_t offset = tls_slot_offset;  // < 0: unassigned or the shared slot
  const std::uint64_t j = histogram_buckets::lookup_offset(v);
  if (j >= layout->inline_lookup_limit || offset < 0) [[unlikely]]
    return record_histogram_slow(s, cells, layout, v, j);
  series_cells::cell* slot = cells + offset;
  // This thread is the slot's only writer (thread_slot.hpp). A bucket count
  // grows by one per record and cannot reach 2^64.
  single_writer_increment(slot[histogram_buckets::first_bucket_cell + layout->bucket_at(v, j)]);
  single_writer_add_f64(slot[histogram_buckets::sum_cell], v);
}

}  // namespace detail

/// What a histogram family's `with()` returns: record in the same
/// expression, or convert it to an obs::histogram to keep it (see
/// obs::counter_ref).
class histogram_ref {
 public:
  explicit histogram_ref(detail::series_cells* state) noexcept : state_(state) {}

  void record(double v) const&& noexcept { detail::record_histogram(state_, state_->cells, state_->layout, v); }
  template <detail::duration Duration>
  void record(Duration d) const&& noexcept {
    detail::record_histogram(state_, state_->cells, state_->layout, detail::seconds(d));
  }
  /// Records `v` with exemplar `e` (see obs::histogram).
  void record(double v, const exemplar& e) const&& noexcept {
    detail::record_histogram(state_, state_->cells, state_->layout, v);
    detail::keep_histogram_exemplar(state_, v, e);
  }
  template <detail::duration Duration>
  void record(Duration d, const exemplar& e) const&& noexcept {
    std::move(*this).record(detail::seconds(d), e);
  }
  // A kept ref may name a recycled series: keep an obs::histogram instead.
  void record(double v) const& = delete;
  void record(double v, const exemplar& e) const& = delete;
  template <detail::duration Duration>
  void record(Duration d) const& = delete;

 private:
  friend class histogram;
  detail::series_cells* state_;
};

/// An owning handle to a histogram series; copies share the series.
class histogram final : detail::series_handle {
 public:
  histogram() noexcept : layout_(state_->layout) {}
  /// Keeps the series `ref` names.
  histogram(const histogram_ref& ref) noexcept  // NOLINT: implicit by design
      : series_handle(ref.state_), layout_(state_->layout) {}

  /// Records one observation. Never throws. NaN is refused, and so is a
  /// negative value unless the histogram has a negative bucket bound or is
  /// native without explicit buckets: the sum of any other histogram is
  /// counter-like, and OpenMetrics forbids it to be NaN or to go down. Refused
  /// values are counted in `obs_rejected_values_total{metric="..."}`, and so
  /// is a value whose first-of-its-range page could not be allocated.
  [[gnu::always_inline]] void record(double v) const noexcept { detail::record_histogram(state_, cells_, layout_, v); }

  /// Records a duration, in seconds.
  template <detail::duration Duration>
  [[gnu::always_inline]] void record(Duration d) const noexcept {
    record(detail::seconds(d));
  }

  /// Records `v` and keeps `e`, e.g. `{{"trace_id", id}}`, as the exemplar
  /// of its bucket (obs/exemplar.hpp). Lock-free; the series' first
  /// exemplar allocates its slots, later ones nothing. Costs a clock read and
  /// a copy of the labels on top of record().
  void record(double v, const exemplar& e) const noexcept {
    detail::record_histogram(state_, cells_, layout_, v);
    detail::keep_histogram_exemplar(state_, v, e);
  }
  template <detail::duration Duration>
  void record(Duration d, const exemplar& e) const noexcept {
    record(detail::seconds(d), e);
  }

  /// Observations so far. Walks every shard and bucket.
  std::uint64_t count() const noexcept {
    std::uint64_t total = 0;
    if (!layout_->classic) {
      total = detail::exponential_total(state_->exponential_stripes, layout_->scheme);
    } else {
      for (std::size_t i = 0; i <= layout_->bound_count; ++i)
        total += detail::sum_u64(cells_ + detail::histogram_buckets::first_bucket_cell + i);
    }
    return total;
  }

  /// Sum of observations so far. Walks every shard.
  double sum() const noexcept { return detail::sum_f64(cells_ + detail::histogram_buckets::sum_cell); }

 private:
  const detail::histogram_buckets* layout_;
};

OBS_NAMESPACE_END

#if OBS_HEADER_ONLY
#include "obs/detail/core-inl.hpp"
#endif
