// detail::family_state: one metric name, its label keys and all its series;
// and the lookup of a series by runtime label values.
//
// Lookup by values first tries this thread's lookup cache: a small direct-
// mapped table of (family, hash) -> series that holds a reference to each
// series it names. A hit costs a hash of the values and one comparison: no
// lock, no shared write, no allocation. A miss takes the family's lock and
// finds (or creates) the series in the family's map, then fills the cache.
//
// Thread safety: the series map, the overflow series and the idle-expiry
// fields of series are guarded by `mutex`. `detached` is read without it: a
// record racing with the removal of its series may land in the detached
// series, as if it had happened just before the removal.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "obs/detail/cell_arena.hpp"
#include "obs/detail/config.hpp"
#include "obs/detail/histogram_layout.hpp"
#include "obs/detail/series_state.hpp"
#include "obs/detail/utf8.hpp"
#include "obs/error.hpp"
#include "obs/metric_type.hpp"

OBS_NAMESPACE_BEGIN
namespace detail {

/// A hash of label values, one multiply per eight bytes: it runs on every
/// runtime-label lookup. Each value's length is mixed into its last word, so
/// ("ab","c") and ("a","bc") differ. Collisions cost only speed: a lookup
/// compares the values themselves.
inline std::uint64_t hash_label_values(std::span<const std::string_view> values) noexcept {
  constexpr std::uint64_t k = 0x9e3779b97f4a7c15ull;
  std::uint64_t h = 0;
  for (std::string_view v : values) {
    const char* p = v.data();
    std::size_t n = v.size();
    std::uint64_t word = 0;
    for (; n > 8; p += 8, n -= 8) {
      std::memcpy(&word, p, 8);
      h = (h ^ word) * k;
    }
    word = 0;
    if (v.size() >= 8) {
      std::memcpy(&word, v.data() + v.size() - 8, 8);  // the last 8 bytes, overlapping
    } else {
      for (std::size_t i = 0; i < n; ++i) word |= std::uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
    }
    h = (h ^ word ^ (std::uint64_t{v.size()} << 56)) * k;
  }
  return h ^ (h >> 32);
}

/// The label value every key of the overflow series carries. A label set
/// of only this value is the overflow series, whoever records into it.
inline constexpr std::string_view overflow_label_value = "__overflow__";

/// How many distinct label sets a family remembers having sent to its
/// overflow series; past that, each further refused lookup counts as new.
inline constexpr std::size_t max_remembered_overflow_sets = 1 << 20;

struct family_state;

/// This thread's runtime-label lookup cache. Entries hold a reference to
/// their series, dropped on eviction and at thread exit (lookup_cache_owner).
/// Trivially destructible and constant-initialised, so reaching it is one
/// thread-pointer-relative address, with no initialisation check.
struct lookup_cache {
  struct entry {
    std::uint64_t family_id = 0;
    std::uint64_t hash = 0;
    series_state* series = nullptr;
  };
  static constexpr std::size_t size = 256;

  std::array<entry, size> entries{};

  entry& slot_for(std::uint64_t family_id, std::uint64_t hash) noexcept {
    std::uint64_t mixed = (hash ^ (family_id * 0x9e3779b97f4a7c15ull)) * 0xff51afd7ed558ccdull;
    return entries[mixed >> 56];
  }
};

inline thread_local lookup_cache tls_lookup_cache;

/// Drops the references this thread's lookup cache holds when the thread
/// exits; the first fill of the cache creates it.
struct lookup_cache_owner {
  ~lookup_cache_owner() {
    for (lookup_cache::entry& e : tls_lookup_cache.entries) {
      if (e.series) release(e.series);
      e = {};
    }
  }
};

inline void own_lookup_cache() noexcept {
  thread_local lookup_cache_owner owner;
  (void)owner;
}

/// Creates the storage of a series; implemented by the registry.
struct series_factory {
  virtual series_state* create(family_state& family, std::span<const std::string_view> values,
                               std::uint64_t hash) = 0;

 protected:
  ~series_factory() = default;
};

struct family_state {
  std::uint64_t id = 0;
  std::string name;
  value_kind kind = value_kind::counter;
  std::vector<std::string> keys;
  histogram_layout layout;
  std::size_t max_series = 0;
  series_factory* factory = nullptr;

  std::mutex mutex;
  std::unordered_multimap<std::uint64_t, series_state*> series;  ///< registry references
  /// `series` in label-value order, rebuilt by snapshots after a change, so
  /// a steady-state scrape does not sort.
  std::vector<series_state*> sorted;
  bool sorted_valid = false;
  series_state* overflow = nullptr;
  /// Hashes of the label sets sent to `overflow`, and how many there were.
  std::unordered_set<std::uint64_t> overflow_sets;
  std::uint64_t overflow_label_sets = 0;
  /// Values recording refused (NaN or negative into a counter-like value).
  std::atomic<std::uint64_t> rejected_values{0};
  /// Callbacks of this family that threw or returned what it cannot hold.
  std::atomic<std::uint64_t> callback_errors{0};
  /// `series.size()`, readable without the lock (snapshots size buffers by it).
  std::atomic<std::size_t> series_count{0};

  metric_type type() const noexcept {
    switch (kind) {
      case value_kind::counter:
      case value_kind::float_counter: return metric_type::counter;
      case value_kind::histogram:
        return layout.high_resolution ? metric_type::summary : metric_type::histogram;
      case value_kind::info: return metric_type::info;
      default: return metric_type::gauge;
    }
  }

  /// The series with these label values (in key order), created if needed.
  /// The result stays alive at least until this thread's next lookup: the
  /// lookup cache or the family holds a reference. Throws obs::error if the
  /// number of values is not the number of keys.
  series_state* find_or_create(std::span<const std::string_view> values) {
    std::uint64_t hash = hash_label_values(values);
    lookup_cache::entry& e = tls_lookup_cache.slot_for(id, hash);
    if (e.family_id == id && e.hash == hash) {
      series_state* s = e.series;
      // Ordering: relaxed; see the header comment on racing removals.
      if (!s->detached.load(std::memory_order_relaxed) && s->matches(values)) return s;
    }
    return find_or_create_slow(values, hash, e);
  }

  /// `series` in label-value order; caller holds `mutex`.
  const std::vector<series_state*>& sorted_locked() {
    if (!sorted_valid) {
      sorted.clear();
      sorted.reserve(series.size());
      for (const auto& entry : series) sorted.push_back(entry.second);
      std::sort(sorted.begin(), sorted.end(),
                [](const series_state* a, const series_state* b) { return a->values < b->values; });
      sorted_valid = true;
    }
    return sorted;
  }

  /// Detaches `s` (which must be in `series`); caller holds `mutex`.
  void detach_locked(series_state* s) noexcept {
    auto [first, last] = series.equal_range(s->hash);
    for (auto it = first; it != last; ++it) {
      if (it->second == s) {
        series.erase(it);
        // Ordering: relaxed; only an estimate.
        series_count.store(series.size(), std::memory_order_relaxed);
        sorted_valid = false;
        break;
      }
    }
    // Ordering: release; pairs with nothing in particular, readers only skip.
    s->detached.store(true, std::memory_order_release);
    release(s);
  }

 private:
  series_state* find_or_create_slow(std::span<const std::string_view> given, std::uint64_t given_hash,
                                    lookup_cache::entry& e) {
    if (given.size() != keys.size())
      throw error(errc::label_keys_mismatch, "metric '" + name + "' takes " +
                                                 std::to_string(keys.size()) + " label values, got " +
                                                 std::to_string(given.size()));
    // Series are found by their sanitised values, the ones exported: two
    // spellings that export alike are one series.
    std::span<const std::string_view> values = given;
    std::uint64_t hash = given_hash;
    std::array<std::string, max_label_keys> sanitised;
    std::array<std::string_view, max_label_keys> sanitised_views;
    if (!std::all_of(given.begin(), given.end(), [](std::string_view v) { return is_valid_utf8(v); })) {
      for (std::size_t i = 0; i < given.size(); ++i) sanitised_views[i] = sanitised[i] = valid_utf8(given[i]);
      values = {sanitised_views.data(), given.size()};
      hash = hash_label_values(values);
    }
    std::unique_lock lock(mutex);
    series_state* found = nullptr;
    auto [first, last] = series.equal_range(hash);
    for (auto it = first; it != last && !found; ++it)
      if (it->second->matches(values)) found = it->second;
    if (!found) {
      // Not cached: once series are removed, new label sets get in again.
      if (is_overflow_label_set(values)) return overflow_locked();
      // A family without keys has one label set, the empty one, which is
      // also the overflow series': it never overflows.
      if (series.size() >= max_series && !keys.empty()) {
        if (overflow_sets.size() < max_remembered_overflow_sets) {
          if (overflow_sets.insert(hash).second) ++overflow_label_sets;
        } else {
          ++overflow_label_sets;
        }
        return overflow_locked();
      }
      found = factory->create(*this, values, hash);
      series.emplace(hash, found);
      // Ordering: relaxed; only an estimate.
      series_count.store(series.size(), std::memory_order_relaxed);
      sorted_valid = false;
    }
    found->idle = false;
    own_lookup_cache();
    retain(found);
    if (e.series) release(e.series);
    e = {id, given_hash, found};
    return found;
  }

  bool is_overflow_label_set(std::span<const std::string_view> values) const noexcept {
    return !values.empty() &&
           std::all_of(values.begin(), values.end(), [](std::string_view v) { return v == overflow_label_value; });
  }

  series_state* overflow_locked() {
    if (!overflow) {
      std::vector<std::string_view> overflow_values(keys.size(), overflow_label_value);
      overflow = factory->create(*this, overflow_values, hash_label_values(overflow_values));
    }
    return overflow;
  }
};

}  // namespace detail
OBS_NAMESPACE_END
