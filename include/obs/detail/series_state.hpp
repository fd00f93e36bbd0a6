// detail::series_state: the storage behind one series (one label set of one
// metric), shared by the registry and every handle to it.
//
// A series is reference counted: the registry holds one reference while the
// series is attached, each owning handle holds one, and so does each
// thread's runtime-label lookup cache entry. Removing a series detaches it
// (it leaves every later snapshot) but never frees it under a handle: a handle
// to a removed series stays safe and records into the detached storage. The
// last reference frees the cells through `destroy`, which the registry sets,
// so this header needs nothing of the registry.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "obs/detail/config.hpp"
#include "obs/detail/histogram_layout.hpp"
#include "obs/detail/thread_slot.hpp"

OBS_NAMESPACE_BEGIN
namespace detail {

/// The most label keys a metric may have.
inline constexpr std::size_t max_label_keys = 32;

/// How a series stores and exports its value.
enum class value_kind : std::uint8_t {
  counter,         ///< u64 in one sharded cell
  float_counter,   ///< double in one sharded cell
  gauge,           ///< double in `gauge_value`
  histogram,       ///< sharded cells: bucket counts, then the sum
  info,            ///< constant 1
};

struct series_state {
  using cell = std::atomic<std::uint64_t>;

  std::atomic<std::uint32_t> refs{1};
  std::atomic<bool> detached{false};
  value_kind kind = value_kind::counter;
  cell* cells = nullptr;  ///< slot-0 copy of the first cell; see thread_slot.hpp
  std::size_t cell_count = 0;
  const histogram_layout* layout = nullptr;  ///< histograms only; owned by the family
  std::unique_ptr<cell[]> high_resolution_buckets;  ///< shared by all threads
  std::atomic<double> gauge_value{0};
  /// Set by every gauge write, cleared by snapshots: a gauge set to the same
  /// value again is active although its value did not change.
  std::atomic<bool> touched{false};
  /// Its value comes from a callback the registry keeps (gauge_callback).
  std::atomic<bool> has_callback{false};
  /// Where recording counts values the type cannot hold (the family's count).
  std::atomic<std::uint64_t>* rejected_values = nullptr;

  std::uint64_t family_id = 0;
  std::uint64_t hash = 0;
  /// Label values, valid UTF-8: invalid bytes were replaced by U+FFFD, and
  /// the series is found by these sanitised values, so two spellings that
  /// export alike are one series.
  std::vector<std::string> values;
  double created_seconds = 0;

  // Idle-expiry bookkeeping, touched only under the family's lock. An idle
  // series is left out of snapshots until it is recorded into again.
  std::uint64_t last_fingerprint = 0;
  std::int64_t last_change_ns = 0;
  bool idle = false;

  /// Frees the series once the last reference is gone; set by the registry.
  void (*destroy)(series_state*) noexcept = nullptr;
  void* owner = nullptr;  ///< what `destroy` needs (the registry's core)
  std::shared_ptr<const void> keep_owner;  ///< keeps `owner` alive

  /// True if `given` are this series' label values.
  bool matches(std::span<const std::string_view> given) const noexcept {
    if (values.size() != given.size()) return false;
    for (std::size_t i = 0; i < given.size(); ++i)
      if (values[i].size() != given[i].size() || !same_bytes(values[i].data(), given[i].data(), given[i].size()))
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

inline void retain(series_state* s) noexcept {
  // Ordering: relaxed; taking a reference needs no ordering, only the count.
  s->refs.fetch_add(1, std::memory_order_relaxed);
}

inline void release(series_state* s) noexcept {
  // Ordering: acq_rel; every holder's writes happen-before the destroy.
  if (s->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) s->destroy(s);
}

/// A series that belongs to no registry: what default-constructed handles
/// point at. Never freed (its count never drops to zero); records into it go
/// nowhere visible.
inline series_state* unbound_series() noexcept {
  static series_state* unbound = [] {
    static const histogram_layout* empty_layout = new histogram_layout(histogram_layout::explicit_buckets({}));
    static std::atomic<std::uint64_t> rejected_nowhere{0};
    auto* s = new series_state;
    s->layout = empty_layout;
    s->rejected_values = &rejected_nowhere;
    s->cell_count = empty_layout->cell_count();
    // One page of cells for every slot, as a cell arena would lay them out.
    s->cells = new series_state::cell[total_slots() * page_cells]();
    return s;
  }();
  return unbound;
}

}  // namespace detail
OBS_NAMESPACE_END
