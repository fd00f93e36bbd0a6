// detail::cell_arena: where the sharded cells of a registry's series live.
//
// The arena hands out runs of u64 cells. Memory comes in pages: one page holds
// `page_cells` cells for every slot, slot-major, so the copy of a cell for slot
// k sits `k * page_cells` cells after its slot-0 copy, and a thread's cells for
// different series share cache lines only with themselves. Cells never move,
// so handles keep raw pointers to them.
//
// Memory follows the threads that record, not the slot count. A page's
// `page_cells` cells of one slot are 4 KiB, one OS page, and pages are mapped
// as zero-filled virtual memory that the OS commits only where a thread
// writes (mmap; where there is none, allocated and zeroed up front). A series
// costs, in resident memory, one 8-byte cell per cell in each slot that wrote
// it: a counter recorded by one thread 8 bytes, a histogram with B bounds
// (B + 2 cells: sum, buckets, +Inf) 8 x (B + 2). Slots that never record into
// a page cost it nothing; readers skip the slots no thread ever had
// (slot_table's high-water mark), and reading the shared slot's untouched
// memory maps the kernel's zero page, which is not resident memory either.
//
// Thread safety: allocate and release lock the arena. Released runs are zeroed
// when they are handed out again, under that lock, in the slots ever written;
// the new series is published to recording threads through the registry's
// locks, which orders the zeroing before their first add.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <vector>

#if __has_include(<sys/mman.h>)
#include <sys/mman.h>
#endif

#include "obs/detail/config.hpp"
#include "obs/detail/thread_slot.hpp"

OBS_NAMESPACE_BEGIN
namespace detail {

/// `count` zeroed cells, aligned to a cache line at least, in memory that is
/// committed only where written when the OS offers that; throws
/// std::bad_alloc. Free with free_cells(cells, count).
inline std::atomic<std::uint64_t>* allocate_zeroed_cells(std::size_t count) {
  const std::size_t bytes = count * sizeof(std::atomic<std::uint64_t>);
#ifdef MAP_ANONYMOUS
  // Anonymous memory reads as zero, which is a u64 atomic's value-initialised
  // state; writing every cell to construct it would commit the whole mapping.
  void* raw = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  return static_cast<std::atomic<std::uint64_t>*>(raw);
#else
  void* raw = ::operator new[](bytes, std::align_val_t{64});
  auto* cells = static_cast<std::atomic<std::uint64_t>*>(raw);
  for (std::size_t i = 0; i < count; ++i) new (cells + i) std::atomic<std::uint64_t>(0);
  return cells;
#endif
}

/// Returns what allocate_zeroed_cells(count) gave.
inline void free_cells(std::atomic<std::uint64_t>* cells, std::size_t count) noexcept {
#ifdef MAP_ANONYMOUS
  ::munmap(cells, count * sizeof(std::atomic<std::uint64_t>));
#else
  static_cast<void>(count);
  ::operator delete[](cells, std::align_val_t{64});
#endif
}

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
      // A slot above the high-water mark has never been written; a thread
      // that takes one later finds it zero.
      const written_slots written = slots_to_read();
      // Only cells that hold a value are written: a store to a cell that is
      // already zero would commit its memory for nothing.
      auto zero = [&](std::size_t slot) {
        for (std::size_t i = 0; i < n; ++i) {
          cell& c = run[slot * page_cells + i];
          // Ordering: relaxed; published to recorders through the registry's locks.
          if (c.load(std::memory_order_relaxed) != 0) c.store(0, std::memory_order_relaxed);
        }
      };
      for (std::size_t s = 0; s < written.exclusive; ++s) zero(s);
      zero(written.shared);
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
    std::size_t count;
    void operator()(cell* p) const noexcept { free_cells(p, count); }
  };
  using page = std::unique_ptr<cell[], page_deleter>;

  page new_page() const {
    const std::size_t count = slots_ * page_cells;
    return page(allocate_zeroed_cells(count), page_deleter{count});
  }

  const std::size_t slots_;
  std::mutex mutex_;
  std::vector<page> pages_;
  std::size_t used_ = 0;
  std::map<std::size_t, std::vector<cell*>> free_;
};

}  // namespace detail
OBS_NAMESPACE_END
