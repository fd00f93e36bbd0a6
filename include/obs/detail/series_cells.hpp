// detail::series_cells: the part of a series (one label set of one metric)
// that recording and the runtime-label lookup touch, and its reference count.
//
// The rest of the series, what the registry and snapshots need, is
// detail::series_state (series_state.hpp), which derives from this; the
// recording path sees only these fields, so instrumented files need no
// container header.
//
// A series is reference counted: the registry holds one reference while the
// series is attached, each owning handle holds one, and so does each
// thread's runtime-label lookup cache entry. Removing a series detaches it
// (it leaves every later snapshot) but never frees it under a handle: a handle
// to a removed series stays safe and records into the detached storage. The
// last reference frees it (free_series, defined with the registry's core).
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include "obs/detail/config.hpp"
#include "obs/detail/histogram_buckets.hpp"

OBS_NAMESPACE_BEGIN
namespace detail {

/// How a series stores and exports its value.
enum class value_kind : std::uint8_t {
  counter,         ///< u64 in one sharded cell
  float_counter,   ///< double in one sharded cell
  gauge,           ///< `gauge_base` plus sharded deltas; see gauge.hpp
  histogram,       ///< sharded cells: the sum, then bucket counts
  info,            ///< constant 1
};

/// What recording refused, per family: values the type cannot hold, and
/// exemplars it could not keep.
struct refusals {
  std::atomic<std::uint64_t> values{0};
  std::atomic<std::uint64_t> exemplars{0};
};

struct exemplar_store;

struct series_cells {
  using cell = std::atomic<std::uint64_t>;

  std::atomic<std::uint32_t> refs{1};
  std::atomic<bool> detached{false};
  /// Set by every gauge write, cleared by snapshots: a gauge set to the same
  /// value again is active although its value did not change.
  std::atomic<bool> touched{false};
  value_kind kind = value_kind::counter;
  std::uint8_t value_count = 0;  ///< label values; at most max_label_keys
  cell* cells = nullptr;  ///< slot-0 copy of the first cell; see thread_slot.hpp
  const histogram_buckets* layout = nullptr;  ///< histograms only; owned by the family
  /// Exponential histograms: a stripe pointer per exclusive stripe and one
  /// for the shared stripe, each null until it records (exponential_buckets.hpp).
  std::atomic<exponential_stripe*>* exponential_stripes = nullptr;
  /// A gauge's value at its last `set`, and the seqlock that numbers sets
  /// (odd while one is in progress); see gauge_cells.hpp.
  std::atomic<double> gauge_base{0};
  std::atomic<std::uint64_t> gauge_sequence{0};
  /// Where recording counts what it refused (the family's counts).
  refusals* refused = nullptr;
  /// The series' exemplars, allocated with its first (exemplar_store.hpp).
  std::atomic<exemplar_store*> exemplars{nullptr};
  /// Label values, valid UTF-8, stored after the series (series_state::create).
  const std::string_view* value_data = nullptr;

  std::span<const std::string_view> values() const noexcept { return {value_data, value_count}; }

  /// True if `given` are this series' label values.
  bool matches(std::span<const std::string_view> given) const noexcept {
    if (value_count != given.size()) return false;
    for (std::size_t i = 0; i < given.size(); ++i)
      if (value_data[i].size() != given[i].size() ||
          !same_bytes(value_data[i].data(), given[i].data(), given[i].size()))
        return false;
    return true;
  }

  /// memcmp(a, b, n) == 0 for the short strings label values are, inline: a
  /// call to memcmp costs more than comparing eight bytes at a time.
  static bool same_bytes(const char* a, const char* b, std::size_t n) noexcept {
    std::uint64_t x, y;
    if (n >= 8) {
      for (std::size_t i = 0; i + 8 <= n; i += 8) {
        std::memcpy(&x, a + i, 8);
        std::memcpy(&y, b + i, 8);
        if (x != y) return false;
      }
      // The last 8 bytes, overlapping what was compared.
      std::memcpy(&x, a + n - 8, 8);
      std::memcpy(&y, b + n - 8, 8);
      return x == y;
    }
    for (std::size_t i = 0; i < n; ++i)
      if (a[i] != b[i]) return false;
    return true;
  }
};

/// Frees a series whose last reference is gone; the registry's core defines it.
OBS_INLINE void free_series(series_cells* s) noexcept;

/// A series that belongs to no registry: what default-constructed handles
/// point at. Never freed (its count never drops to zero); records into it go
/// nowhere visible.
OBS_INLINE series_cells* unbound_series() noexcept;

/// Serialises the rare writes to a series that read or write several of its
/// cells at once: a counter's `absolute`, a gauge add from the shared slot.
/// Series share 64 stripes by address: these writes are rare, and no
/// recording into an exclusive slot takes the lock.
class series_write_lock {
 public:
  explicit series_write_lock(const series_cells* s) noexcept
      : flag_(stripes()[(reinterpret_cast<std::uintptr_t>(s) >> 6) % stripe_count]) {
    // Ordering: acquire/release; the holder's writes happen-before the next holder's reads.
    while (flag_.test_and_set(std::memory_order_acquire)) flag_.wait(true, std::memory_order_relaxed);
  }
  ~series_write_lock() {
    flag_.clear(std::memory_order_release);
    flag_.notify_one();
  }
  series_write_lock(const series_write_lock&) = delete;
  series_write_lock& operator=(const series_write_lock&) = delete;

 private:
  static constexpr std::size_t stripe_count = 64;
  static std::atomic_flag* stripes() noexcept {
    static std::atomic_flag flags[stripe_count];
    return flags;
  }
  std::atomic_flag& flag_;
};

inline void retain(series_cells* s) noexcept {
  // Ordering: relaxed; taking a reference needs no ordering, only the count.
  s->refs.fetch_add(1, std::memory_order_relaxed);
}

inline void release(series_cells* s) noexcept {
  // Ordering: acq_rel; every holder's writes happen-before the free.
  if (s->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) free_series(s);
}

}  // namespace detail
OBS_NAMESPACE_END
