// detail::lookup_cache: this thread's cache of runtime-label lookups, and the
// lookup's fast path.
//
// A small direct-mapped table of (family, hash of values) -> series that
// holds a reference to each series it names. A hit costs a hash of the
// values and one comparison: no lock, no shared write, no allocation. A miss
// goes to find_series_slow, which takes the family's lock, finds (or
// creates) the series and fills the entry.
//
// Thread safety: the cache is this thread's own. `detached` is read without
// a lock: a record racing with the removal of its series may land in the
// detached series, as if it had happened just before the removal.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <type_traits>

#include "obs/detail/config.hpp"
#include "obs/detail/series_cells.hpp"

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

/// Trivially destructible and constant-initialised, so reaching it is one
/// thread-pointer-relative address, with no initialisation check. The
/// references its entries hold are dropped on eviction and at thread exit.
struct lookup_cache {
  struct entry {
    std::uint64_t family_id = 0;
    std::uint64_t hash = 0;
    series_cells* series = nullptr;
  };
  static constexpr std::size_t size = 256;

  std::array<entry, size> entries{};

  entry& slot_for(std::uint64_t family_id, std::uint64_t hash) noexcept {
    std::uint64_t mixed = (hash ^ (family_id * 0x9e3779b97f4a7c15ull)) * 0xff51afd7ed558ccdull;
    return entries[mixed >> 56];
  }
};

inline thread_local lookup_cache tls_lookup_cache;

class registry_core;
struct family_state;

/// The series of `family` (of `core`) with these label values, in key order,
/// created if needed and cached in `e`; the slow path of find_series. Throws
/// obs::error if the number of values is not the number of keys.
OBS_INLINE series_cells* find_series_slow(registry_core* core, family_state& family, std::uint64_t family_id,
                                          std::span<const std::string_view> values, std::uint64_t hash,
                                          lookup_cache::entry& e);

/// The series of `family` (of `core`, with id `family_id`) with these label
/// values. The result stays alive at least until this thread's next lookup:
/// the lookup cache or the family holds a reference.
///
/// A template (`Span` is always the default) only so that its body is
/// compiled where a lookup is: copying a std::span makes the compiler check
/// the constraints of span's range constructor, which would cost every file
/// that includes this header about 10 ms (g++ 12), families used or not.
template <class Span = std::span<const std::string_view>>
inline series_cells* find_series(registry_core* core, family_state& family, std::uint64_t family_id,
                                 std::type_identity_t<Span> values) {
  const std::uint64_t hash = hash_label_values(values);
  lookup_cache::entry& e = tls_lookup_cache.slot_for(family_id, hash);
  if (e.family_id == family_id && e.hash == hash) {
    series_cells* s = e.series;
    // Ordering: relaxed; see the header comment on racing removals.
    if (!s->detached.load(std::memory_order_relaxed) && s->matches(values)) return s;
  }
  return find_series_slow(core, family, family_id, values, hash, e);
}

}  // namespace detail
OBS_NAMESPACE_END
