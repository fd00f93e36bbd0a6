// detail::family_state: one metric name, its label keys and all its series.
//
// The lookup of a series by label values starts in this thread's lookup
// cache (lookup_cache.hpp); a miss ends here, under `mutex`, in the series
// map (registry_core.hpp's find_series_slow).
//
// Thread safety: the series map, the overflow series and the idle-expiry
// fields of series are guarded by `mutex`.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "obs/detail/config.hpp"
#include "obs/detail/histogram_layout.hpp"
#include "obs/detail/series_index.hpp"
#include "obs/detail/series_state.hpp"
#include "obs/detail/string_list.hpp"
#include "obs/metric_type.hpp"

OBS_NAMESPACE_BEGIN
namespace detail {

/// The label value every key of the overflow series carries. A label set
/// of only this value is the overflow series, whoever records into it.
inline constexpr std::string_view overflow_label_value = "__overflow__";

/// How many distinct label sets a family remembers having sent to its
/// overflow series; past that, each further refused lookup counts as new.
inline constexpr std::size_t max_remembered_overflow_sets = 1 << 20;

struct family_state {
  std::uint64_t id = 0;
  std::string name;
  value_kind kind = value_kind::counter;
  string_list keys;
  histogram_layout layout;
  std::size_t max_series = 0;

  std::mutex mutex;
  series_index series;  ///< registry references
  /// `series` in label-value order, rebuilt by snapshots after a change, so
  /// a steady-state scrape does not sort.
  std::vector<series_state*> sorted;
  bool sorted_valid = false;
  series_state* overflow = nullptr;
  /// Hashes of the label sets sent to `overflow`, and how many there were.
  std::unordered_set<std::uint64_t> overflow_sets;
  std::uint64_t overflow_label_sets = 0;
  /// Values recording refused (NaN or negative into a counter-like value),
  /// and exemplars it could not keep.
  refusals refused;
  /// Callbacks of this family that threw or returned what it cannot hold.
  std::atomic<std::uint64_t> callback_errors{0};
  /// `series.size()`, readable without the lock (snapshots size buffers by it).
  std::atomic<std::size_t> series_count{0};

  metric_type type() const noexcept {
    switch (kind) {
      case value_kind::counter:
      case value_kind::float_counter: return metric_type::counter;
      case value_kind::histogram:
        return layout.summary ? metric_type::summary : metric_type::histogram;
      case value_kind::info: return metric_type::info;
      default: return metric_type::gauge;
    }
  }

  /// The attached series with these (sanitised) values; caller holds `mutex`.
  series_state* find_locked(std::span<const std::string_view> values, std::uint64_t hash) const noexcept {
    return series.find(values, hash);
  }

  /// Attaches a new series; caller holds `mutex`. Throws std::bad_alloc,
  /// and then `s` is not attached.
  void attach_locked(series_state* s) {
    series.insert(s);
    // Ordering: relaxed; only an estimate.
    series_count.store(series.size(), std::memory_order_relaxed);
    sorted_valid = false;
  }

  /// `series` in label-value order; caller holds `mutex`.
  const std::vector<series_state*>& sorted_locked() {
    if (!sorted_valid) {
      sorted.clear();
      sorted.reserve(series.size());
      series.for_each([&](series_state* s) { sorted.push_back(s); });
      std::sort(sorted.begin(), sorted.end(), [](const series_state* a, const series_state* b) {
        return std::ranges::lexicographical_compare(a->values(), b->values());
      });
      sorted_valid = true;
    }
    return sorted;
  }

  /// Detaches `s` (which must be in `series`); caller holds `mutex`.
  void detach_locked(series_state* s) noexcept {
    series.erase(s);
    // Ordering: relaxed; only an estimate.
    series_count.store(series.size(), std::memory_order_relaxed);
    sorted_valid = false;
    // Ordering: release; pairs with nothing in particular, readers only skip.
    s->detached.store(true, std::memory_order_release);
    release(s);
  }

  /// Detaches every series; caller holds `mutex`.
  void detach_all_locked() noexcept {
    series_index all(std::move(series));
    series_count.store(0, std::memory_order_relaxed);
    sorted_valid = false;
    all.for_each([](series_state* s) {
      // Ordering: release, as in detach_locked.
      s->detached.store(true, std::memory_order_release);
      release(s);
    });
  }

  /// True if every value is the overflow value (the overflow series' set).
  static bool is_overflow_label_set(std::span<const std::string_view> values) noexcept {
    return !values.empty() &&
           std::all_of(values.begin(), values.end(), [](std::string_view v) { return v == overflow_label_value; });
  }
};

}  // namespace detail
OBS_NAMESPACE_END
