// detail::cell_arena: where the sharded cells of a registry's series live.
//
// The arena hands out runs of u64 cells. Memory comes in pages: one page holds
// `page_cells` cells for every slot, slot-major, so the copy of a cell for slot
// k sits `k * page_cells` cells after its slot-0 copy, and a thread's cells for
// different series share cache lines only with themselves. Cells never move,
// so handles keep raw pointers to them.
//
// Memory per cell is `total_slots() x 8` bytes: a counter series costs one
// cell, a histogram with B bounds costs B + 2 (buckets, +Inf, sum).
//
// Thread safety: allocate and release lock the arena. Released runs are zeroed
// when they are handed out again, under that lock; the new series is published
// to recording threads through the registry's locks, which orders the zeroing
// before their first add.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <vector>

#include "obs/detail/config.hpp"
#include "obs/detail/thread_slot.hpp"

OBS_NAMESPACE_BEGIN
namespace detail {

class cell_arena {
 public:
  using cell = std::atomic<std::uint64_t>;

  cell_arena() : slots_(total_slots()) {}
  cell_arena(const cell_arena&) = delete;
  cell_arena& operator=(const cell_arena&) = delete;

  /// A zeroed run of `n` cells (1 <= n <= page_cells; a histogram's 256
  /// bounds at most need 258); returns its slot-0 copy.
  cell* allocate(std::size_t n) {
    std::lock_guard lock(mutex_);
    auto& reusable = free_[n];
    if (!reusable.empty()) {
      cell* run = reusable.back();
      reusable.pop_back();
      for (std::size_t s = 0; s < slots_; ++s)
        for (std::size_t i = 0; i < n; ++i)
          // Ordering: relaxed; published to recorders through the registry's locks.
          run[s * page_cells + i].store(0, std::memory_order_relaxed);
      return run;
    }
    if (pages_.empty() || used_ + n > page_cells) {
      pages_.push_back(new_page());
      used_ = 0;
    }
    cell* run = pages_.back().get() + used_;
    used_ += n;
    return run;
  }

  /// Gives a run back once nothing can write to it any more.
  void release(cell* run, std::size_t n) {
    std::lock_guard lock(mutex_);
    free_[n].push_back(run);
  }

 private:
  struct page_deleter {
    void operator()(cell* p) const noexcept {
      ::operator delete[](p, std::align_val_t{64});
    }
  };
  using page = std::unique_ptr<cell[], page_deleter>;

  page new_page() const {
    std::size_t count = slots_ * page_cells;
    // Cache-line aligned, so slot boundaries fall on cache-line boundaries.
    void* raw = ::operator new[](count * sizeof(cell), std::align_val_t{64});
    cell* cells = static_cast<cell*>(raw);
    for (std::size_t i = 0; i < count; ++i) new (cells + i) cell(0);
    return page(cells);
  }

  const std::size_t slots_;
  std::mutex mutex_;
  std::vector<page> pages_;
  std::size_t used_ = 0;
  std::map<std::size_t, std::vector<cell*>> free_;
};

}  // namespace detail
OBS_NAMESPACE_END
