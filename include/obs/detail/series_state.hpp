// detail::series_state: everything the registry keeps about one series
// beyond what recording touches (series_cells.hpp): which family and core it
// belongs to, its label values, and idle-expiry bookkeeping.
//
// A series is one allocation: the state, then its label values as
// string_views, then their bytes. With the family's index entry and the
// cells a recording thread writes, a counter series costs about 200 bytes
// (bench/memory_rss), so a million of them fit where a node per value and a
// vector per label set would not.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <string_view>

#include "obs/detail/config.hpp"
#include "obs/detail/exemplar_store.hpp"
#include "obs/detail/series_cells.hpp"

OBS_NAMESPACE_BEGIN
namespace detail {

/// The most label keys a metric may have.
inline constexpr std::size_t max_label_keys = 32;

class registry_core;

struct series_state : series_cells {
  /// The core whose arena holds the cells; the series holds a reference to it.
  registry_core* core = nullptr;
  std::uint64_t family_id = 0;
  std::uint64_t hash = 0;
  double created_seconds = 0;

  // Idle-expiry bookkeeping, touched only under the family's lock. An idle
  // series is left out of snapshots until it is recorded into again.
  std::uint64_t last_fingerprint = 0;
  std::int64_t last_change_ns = 0;

  std::uint32_t cell_count = 0;
  /// Its value comes from a callback the registry keeps (gauge_callback).
  std::atomic<bool> has_callback{false};
  bool idle = false;

  /// A series with these label values, which must be valid UTF-8 (invalid
  /// bytes replaced by U+FFFD: the series is found by the sanitised values,
  /// so two spellings that export alike are one series). Throws
  /// std::bad_alloc; free with destroy().
  static series_state* create(std::span<const std::string_view> values) {
    std::size_t bytes = 0;
    for (std::string_view v : values) bytes += v.size();
    void* raw = ::operator new(values_offset() + values.size() * sizeof(std::string_view) + bytes);
    auto* s = ::new (raw) series_state;
    auto* views = reinterpret_cast<std::string_view*>(static_cast<char*>(raw) + values_offset());
    char* at = reinterpret_cast<char*>(views + values.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (!values[i].empty()) std::memcpy(at, values[i].data(), values[i].size());
      ::new (views + i) std::string_view(at, values[i].size());
      at += values[i].size();
    }
    s->value_data = views;
    s->value_count = static_cast<std::uint8_t>(values.size());
    return s;
  }

  /// Frees what create() made, and the native buckets if any; the arena's
  /// cells are the caller's to release.
  static void destroy(series_state* s) noexcept {
    exemplar_store::destroy(s->exemplars.load(std::memory_order_relaxed));
    if (s->exponential_stripes) {
      for (std::size_t k = 0; k <= s->layout->scheme.stripes; ++k)
        exponential_stripe::destroy(s->exponential_stripes[k].load(std::memory_order_relaxed), s->layout->scheme.octaves());
      delete[] s->exponential_stripes;
    }
    s->~series_state();
    ::operator delete(s);
  }

  struct destroyer {
    void operator()(series_state* s) const noexcept { destroy(s); }
  };

 private:
  series_state() = default;
  /// Where the label values start: after the state, aligned for string_views.
  static constexpr std::size_t values_offset() noexcept {
    return (sizeof(series_state) + alignof(std::string_view) - 1) / alignof(std::string_view) *
           alignof(std::string_view);
  }
};

/// The registry-side view of a series recording hands around.
inline series_state* state_of(series_cells* s) noexcept { return static_cast<series_state*>(s); }

}  // namespace detail
OBS_NAMESPACE_END
