// detail::series_state: everything the registry keeps about one series
// beyond what recording touches (series_cells.hpp): which family and core it
// belongs to, its label values, and idle-expiry bookkeeping.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "obs/detail/config.hpp"
#include "obs/detail/series_cells.hpp"
#include "obs/detail/string_list.hpp"

OBS_NAMESPACE_BEGIN
namespace detail {

/// The most label keys a metric may have.
inline constexpr std::size_t max_label_keys = 32;

class registry_core;

struct series_state : series_cells {
  /// The core whose arena holds the cells; the series holds a reference to it.
  registry_core* core = nullptr;
  std::size_t cell_count = 0;
  std::unique_ptr<cell[]> high_resolution_storage;  ///< what `high_resolution_buckets` points at
  /// Its value comes from a callback the registry keeps (gauge_callback).
  std::atomic<bool> has_callback{false};

  std::uint64_t family_id = 0;
  std::uint64_t hash = 0;
  /// Label values, valid UTF-8: invalid bytes were replaced by U+FFFD, and
  /// the series is found by these sanitised values, so two spellings that
  /// export alike are one series.
  string_list values;
  double created_seconds = 0;

  // Idle-expiry bookkeeping, touched only under the family's lock. An idle
  // series is left out of snapshots until it is recorded into again.
  std::uint64_t last_fingerprint = 0;
  std::int64_t last_change_ns = 0;
  bool idle = false;

  /// Sets the values and points the recording view at them.
  void set_values(std::span<const std::string_view> given) {
    values = string_list(given);
    value_data = values.data();
    value_count = values.size();
  }
};

/// The registry-side view of a series recording hands around.
inline series_state* state_of(series_cells* s) noexcept { return static_cast<series_state*>(s); }

}  // namespace detail
OBS_NAMESPACE_END
