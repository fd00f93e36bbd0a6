// detail::slot_table: the process-wide allocator of thread slots, whose
// acquire and release back thread_slot.hpp's assign_thread_slot (core-inl.hpp).
//
// Slots are handed out lowest first and a released slot is the next one
// handed out, so the slots ever used (the high-water mark) follow the number
// of threads that recorded at once, not the slot count: readers and the
// arena's zeroing walk only those, and the shared slot.
//
// Thread safety: the free list is guarded by a mutex, so a slot's previous
// owner's last store happens-before its next owner's first load.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include "obs/detail/config.hpp"
#include "obs/detail/thread_slot.hpp"

OBS_NAMESPACE_BEGIN
namespace detail {

/// The process-wide allocator of exclusive slots. Never destroyed, so threads
/// that exit during static destruction can still return their slot.
class slot_table {
 public:
  static slot_table& instance() {
    static slot_table* table = new slot_table;
    return *table;
  }

  /// Exclusive slots; the shared slot has index `exclusive_slots()`.
  std::size_t exclusive_slots() const noexcept { return exclusive_; }
  /// Slots per cell, the shared one included.
  std::size_t total_slots() const noexcept { return exclusive_ + 1; }

  /// How many exclusive slots have ever been handed out: slots from this
  /// index up to the shared one have never been written.
  std::size_t high_water() const noexcept {
    // Ordering: acquire; pairs with the release in acquire(), so a reader
    // that sees a slot's writes counts the slot.
    return high_water_.load(std::memory_order_acquire);
  }

  /// An exclusive slot, or `exclusive_slots()` when all are taken.
  std::size_t acquire() {
    std::lock_guard lock(mutex_);
    if (free_.empty()) return exclusive_;
    std::size_t slot = free_.back();
    free_.pop_back();
    if (slot >= high_water_.load(std::memory_order_relaxed))
      // Ordering: release; published before the slot's owner writes its first cell.
      high_water_.store(slot + 1, std::memory_order_release);
    return slot;
  }

  void release(std::size_t slot) {
    std::lock_guard lock(mutex_);
    free_.push_back(slot);
  }

 private:
  slot_table() : exclusive_(configured_slots()) {
    free_.reserve(exclusive_);
    // Hand out low slots first: they are the ones snapshots read first.
    for (std::size_t i = exclusive_; i-- > 0;) free_.push_back(i);
  }

  static std::size_t configured_slots() {
    if (const char* env = std::getenv("OBS_THREAD_SLOTS")) {
      long n = std::strtol(env, nullptr, 10);
      if (n >= 1 && n <= 4096) return static_cast<std::size_t>(n);
    }
    std::size_t hw = std::max(1u, std::thread::hardware_concurrency());
    return std::clamp<std::size_t>(4 * hw, 16, 1024);
  }

  std::size_t exclusive_;
  std::mutex mutex_;
  /// Never-used slots lowest on top, released ones above them: a new slot is
  /// taken only when every slot used before is busy.
  std::vector<std::size_t> free_;
  std::atomic<std::size_t> high_water_{0};
};

}  // namespace detail
OBS_NAMESPACE_END
