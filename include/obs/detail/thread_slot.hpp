// detail::thread_slot: which shard of every sharded cell this thread writes.
//
// Sharded storage keeps one copy of each cell per slot. A thread takes a slot
// the first time it records and keeps it until it exits, so it is the only
// writer of its slot's cells and adds without a locked read-modify-write
// (single_writer.hpp). When the thread exits its slot goes back to a
// free list with its values in place: the next owner keeps adding to the same
// totals, so increments from exited threads are never lost.
//
// There are `slot_count()` exclusive slots (default max(16, 4 x hardware
// threads), or the OBS_THREAD_SLOTS environment variable, read once). Threads
// beyond that share one extra slot and add with fetch_add: still exact, just
// slower.
//
// Thread safety / memory ordering: the free list is guarded by a mutex, so a
// slot's previous owner's last store happens-before its next owner's first
// load. Readers sum the slots ever handed out (slot_table's high-water mark)
// and the shared one with relaxed loads: a concurrent snapshot may see
// one slot's newest value and another's older one (torn across slots), never a
// torn or lost increment.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "obs/detail/config.hpp"
#include "obs/detail/single_writer.hpp"

OBS_NAMESPACE_BEGIN
namespace detail {

/// Cells per slot in one page of a cell arena: slot k of a cell lives
/// `k * page_cells` cells after slot 0.
inline constexpr std::size_t page_cells = 512;

/// This thread's slot offset, in cells: >= 0 for an exclusive slot; for the
/// shared slot, the bitwise complement of its offset; `slot_unassigned` before
/// the first recording.
inline constexpr std::intptr_t slot_unassigned = INTPTR_MIN;
inline thread_local std::intptr_t tls_slot_offset = slot_unassigned;

/// Gives this thread a slot and returns its offset; the slow path of the
/// first recording (slot_table.hpp).
OBS_INLINE std::intptr_t assign_thread_slot() noexcept;

/// Slots per cell, the shared one included; fixed for the process.
OBS_INLINE std::size_t total_slots() noexcept;

/// The slots a reader sums: the exclusive slots below `exclusive` (every
/// slot a thread has ever had) and the shared slot, index `shared`. The
/// others have never been written and are still zero.
struct written_slots {
  std::size_t exclusive;
  std::size_t shared;
};
OBS_INLINE written_slots slots_to_read() noexcept;

/// This thread's slot offset, taking a slot on the first call.
inline std::intptr_t current_slot_offset() noexcept {
  std::intptr_t offset = tls_slot_offset;
  if (offset == slot_unassigned) [[unlikely]] offset = assign_thread_slot();
  return offset;
}

/// Adds `n` to the shard at `offset` (from current_slot_offset) of the u64
/// cell whose slot-0 copy is `cell0`, saturating at UINT64_MAX.
inline void add_u64_at(std::atomic<std::uint64_t>* cell0, std::intptr_t offset, std::uint64_t n) noexcept {
  if (offset >= 0) [[likely]] {
    single_writer_add_u64(cell0[offset], n);  // this thread is the slot's only writer
  } else {
    std::atomic<std::uint64_t>& cell = cell0[~offset];
    // Ordering: relaxed CAS loop; a shared slot needs atomicity, not ordering.
    std::uint64_t old = cell.load(std::memory_order_relaxed);
    while (!cell.compare_exchange_weak(old, saturating_add(old, n), std::memory_order_relaxed)) {
    }
  }
}

/// Adds `v` to the shard at `offset` of a double cell (its bit pattern is
/// stored in a u64 cell).
inline void add_f64_at(std::atomic<std::uint64_t>* cell0, std::intptr_t offset, double v) noexcept {
  if (offset >= 0) [[likely]] {
    single_writer_add_f64(cell0[offset], v);
    return;
  }
  std::atomic<std::uint64_t>& cell = cell0[~offset];
  // Ordering: relaxed CAS loop; the shared slot has several writers.
  std::uint64_t old = cell.load(std::memory_order_relaxed);
  while (!cell.compare_exchange_weak(old, double_bits(bits_double(old) + v), std::memory_order_relaxed)) {
  }
}

/// add_u64 from a thread without a slot yet, or in the shared slot.
[[gnu::noinline]] inline void add_u64_elsewhere(std::atomic<std::uint64_t>* cell0, std::uint64_t n) noexcept {
  add_u64_at(cell0, current_slot_offset(), n);
}

/// add_f64 from a thread without a slot yet, or in the shared slot.
[[gnu::noinline]] inline void add_f64_elsewhere(std::atomic<std::uint64_t>* cell0, double v) noexcept {
  add_f64_at(cell0, current_slot_offset(), v);
}

/// Adds `n` to this thread's shard of the u64 cell at `cell0` (slot 0). A
/// thread with its own slot, the common case, is one compare and a plain
/// add; any other is a call.
inline void add_u64(std::atomic<std::uint64_t>* cell0, std::uint64_t n) noexcept {
  const std::intptr_t offset = tls_slot_offset;  // < 0: unassigned or the shared slot
  if (offset < 0) [[unlikely]] return add_u64_elsewhere(cell0, n);
  add_u64_at(cell0, offset, n);
}

/// Adds `v` to this thread's shard of the double cell at `cell0`, as add_u64.
inline void add_f64(std::atomic<std::uint64_t>* cell0, double v) noexcept {
  const std::intptr_t offset = tls_slot_offset;
  if (offset < 0) [[unlikely]] return add_f64_elsewhere(cell0, v);
  add_f64_at(cell0, offset, v);
}

/// Sums the u64 cell at `cell0` over the slots ever written, saturating at
/// UINT64_MAX.
inline std::uint64_t sum_u64(const std::atomic<std::uint64_t>* cell0) noexcept {
  const written_slots slots = slots_to_read();
  // Ordering: relaxed; a sum may be torn across slots, never within one.
  std::uint64_t total = cell0[slots.shared * page_cells].load(std::memory_order_relaxed);
  for (std::size_t s = 0; s < slots.exclusive; ++s)
    // Ordering: relaxed, as above.
    total = saturating_add(total, cell0[s * page_cells].load(std::memory_order_relaxed));
  return total;
}

/// Sums the double cell at `cell0` over the slots ever written.
inline double sum_f64(const std::atomic<std::uint64_t>* cell0) noexcept {
  const written_slots slots = slots_to_read();
  // Ordering: relaxed, as in sum_u64.
  double total = bits_double(cell0[slots.shared * page_cells].load(std::memory_order_relaxed));
  for (std::size_t s = 0; s < slots.exclusive; ++s)
    // Ordering: relaxed, as in sum_u64.
    total += bits_double(cell0[s * page_cells].load(std::memory_order_relaxed));
  return total;
}

}  // namespace detail
OBS_NAMESPACE_END
