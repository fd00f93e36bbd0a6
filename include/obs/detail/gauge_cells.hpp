// detail::gauge_*: how a gauge series stores its value so that adds from
// many threads never contend and `set` still wins over every earlier write.
//
// Adds go into this thread's shard, as a counter's do. A shard cannot be told
// to forget its delta by another thread without a locked instruction on
// every add, so a set numbers a new epoch instead: the value is the base the
// last set stored plus the deltas the shards added in that epoch, and a
// shard still holding an older epoch's delta starts from zero at its next
// add. Each slot holds two cells, the delta (a double) and its epoch; a gauge
// only ever set writes no cell at all.
//
// A set publishes (sequence, base) as a seqlock, claiming the odd sequence
// with a compare-exchange so that sets serialise without a lock (a set that
// finds another in progress lets it win and takes effect just before): the
// sequence is odd while a set is in progress, and gauge_epoch gives a set in
// progress the epoch it ends at, so an add that sees a set in progress
// already belongs to the epoch it starts. Adds from the shared slot (threads
// beyond the slot count), which has several writers, take series_write_lock.
//
// Most gauges are only ever set (a queue depth, a temperature) or only ever
// moved by adds (requests in flight). The sequence's top bit records that
// some add happened; until then no shard holds a delta, so a set is a plain
// store of the base, as cheap as an unsharded gauge's.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "obs/detail/config.hpp"
#include "obs/detail/series_cells.hpp"
#include "obs/detail/thread_slot.hpp"

OBS_NAMESPACE_BEGIN
namespace detail {

inline constexpr std::size_t gauge_delta_cell = 0;
inline constexpr std::size_t gauge_epoch_cell = 1;
inline constexpr std::size_t gauge_cell_count = 2;

/// The sequence's top bit: some add has written a shard.
inline constexpr std::uint64_t gauge_added = std::uint64_t{1} << 63;

/// The epoch a sequence names: 2k + 1 both for 2k (k sets done) and for
/// 2k - 1 (the k-th in progress), so a set in progress already names the
/// epoch it starts. Epochs are odd, so a cell never written (zero) belongs
/// to none and adds nothing, not even +0 to a -0 base. Cells are written with
/// the sequence's `gauge_added` bit set, and readers of a gauge with written
/// cells see it set too.
inline std::uint64_t gauge_epoch(std::uint64_t sequence) noexcept { return (sequence + 1) | 1; }

// Every write also marks the gauge touched, so idle expiry sees activity
// even when the value stays the same; the flag is read first so that adds
// from many threads do not all write one shared cache line.
inline void gauge_touch(series_cells* s) noexcept {
  // Ordering: relaxed; a statistic for idle expiry.
  if (!s->touched.load(std::memory_order_relaxed)) s->touched.store(true, std::memory_order_relaxed);
}

/// Adds `v` to the slot at `slot` (an offset in cells) within `epoch`.
/// Only the slot's writer calls this (or writers of the shared slot, under
/// series_write_lock).
inline void gauge_add_to_slot(series_cells::cell* slot, std::uint64_t epoch, double v) noexcept {
  series_cells::cell& delta = slot[gauge_delta_cell];
  series_cells::cell& delta_epoch = slot[gauge_epoch_cell];
  // Ordering: relaxed on the delta, the slot's writer's own; the epoch is
  // stored with release after the delta it starts, so a reader that sees
  // the epoch (acquire) sees that delta or a later one.
  if (delta_epoch.load(std::memory_order_relaxed) == epoch) {
    single_writer_add_f64(delta, v);
  } else {
    delta.store(double_bits(v), std::memory_order_relaxed);
    delta_epoch.store(epoch, std::memory_order_release);
  }
}

/// Every add but the common one: the gauge's first add (which sets the
/// flag), a thread's first record (which takes a slot), an add from the
/// shared slot (which has several writers, so it takes the series' lock).
/// Out of line, so that the common add needs no stack frame.
OBS_INLINE void gauge_add_slow(series_cells* s, double v) noexcept;

/// A set of a gauge that some add has written to: a new epoch, claimed with
/// a compare-exchange (core-inl.hpp).
OBS_INLINE void gauge_set_new_epoch(series_cells* s, double v) noexcept;

/// The gauge's value: the last set's base plus this epoch's deltas of every
/// slot ever written, each the sum of its thread's adds in order. With
/// fractional adds this may differ in the last bits from adding each to the
/// base in turn, as any sum across threads does.
OBS_INLINE double gauge_read(const series_cells* s) noexcept;

/// Adds `v` to this thread's shard: the common case is a load of the
/// sequence, the epoch check and a plain add into this thread's cells.
inline void gauge_add(series_cells* s, double v) noexcept {
  // Ordering: relaxed, as in gauge_add_slow.
  const std::uint64_t sequence = s->gauge_sequence.load(std::memory_order_relaxed);
  const std::intptr_t offset = tls_slot_offset;  // < 0: unassigned or the shared slot
  if (!(sequence & gauge_added) || offset < 0) [[unlikely]] return gauge_add_slow(s, v);
  gauge_add_to_slot(s->cells + offset, gauge_epoch(sequence), v);
  gauge_touch(s);
}

inline void gauge_set(series_cells* s, double v) noexcept {
  // Ordering: relaxed; see gauge_set_new_epoch for the seqlock.
  if (s->gauge_sequence.load(std::memory_order_relaxed) & gauge_added) return gauge_set_new_epoch(s, v);
  // No shard holds a delta: the base is the value. An add racing this set
  // counts after it.
  s->gauge_base.store(v, std::memory_order_release);
  gauge_touch(s);
}

}  // namespace detail
OBS_NAMESPACE_END
