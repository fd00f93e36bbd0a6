// detail::histogram_buckets: how recording maps a value to a histogram
// bucket, the part of a family's histogram_layout (histogram_layout.hpp) that
// every recording reads. Plain pointers and sizes into the layout that owns
// the tables, so the recording path needs no container header.
//
// Explicit mode: finite, strictly increasing upper bounds; bucket i counts
// values `<= bounds[i]`, one more bucket counts the rest (+Inf). Cells are the
// sum, then the buckets. Finding the bucket must not branch on the value:
// latencies jump between buckets, and a mispredicted scan costs more than the
// whole add. So a table maps each log-linear bucket (below) of [2^-32, 2^32)
// to the first explicit bucket it can fall in, and one compare finishes; only
// values outside that range, NaN, and bounds closer than 1/64 of each other
// take a scan.
//
// Exponential mode (native and high-resolution histograms): Prometheus's
// native buckets, counted in sparse pages (exponential_buckets.hpp); the
// sum lives in one sharded cell, and explicit bounds, when a native
// histogram has them too, in the cells after it as in explicit mode.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

#include "obs/detail/config.hpp"
#include "obs/detail/exponential_buckets.hpp"

OBS_NAMESPACE_BEGIN
namespace detail {

struct histogram_buckets {
  static constexpr int sub_bits = 6;
  static constexpr std::uint64_t sub_buckets = 1u << sub_bits;
  // Explicit mode's bucket lookup covers [2^lookup_min_exponent, 2^lookup_max_exponent).
  static constexpr int lookup_min_exponent = -32, lookup_max_exponent = 32;
  static constexpr std::uint16_t no_lookup = 0xffff;
  /// Entries of the lookup table: log_linear_buckets of its range.
  static constexpr std::size_t lookup_entries =
      static_cast<std::size_t>(lookup_max_exponent - lookup_min_exponent) * sub_buckets + 2;

  /// Whether values are counted in native buckets (`scheme`).
  bool exponential = false;
  /// Whether the cells after the sum count explicit buckets.
  bool classic = true;
  /// The smallest value `record` accepts: 0 while the sum is counter-like
  /// (no negative bound; a high-resolution histogram), else -Inf.
  double min_observation = 0;
  /// The lookup positions whose entries all name a bucket, so that a
  /// record can use one unchecked: all of them, or none when two bounds
  /// share a range of the lookup (closer than 1/64 of a power of two apart).
  std::uint64_t lookup_limit = lookup_entries - 2;
  /// The lookup positions record's common path may use: lookup_limit in
  /// explicit mode, none in exponential mode. Its one range check so also
  /// sends every value of an exponential histogram, or of bounds the lookup
  /// cannot place, to the slow path, as it sends every value outside the
  /// lookup, and so needs no check of min_observation: zero, negatives and
  /// NaN are outside the range.
  std::uint64_t inline_lookup_limit = lookup_entries - 2;
  // Explicit mode: the bounds, the same followed by +Inf, and the lookup table.
  const double* bound_data = nullptr;
  std::size_t bound_count = 0;
  const double* bounds_with_inf = nullptr;
  const std::uint16_t* lookup_table = nullptr;  ///< lookup_entries entries
  // Exponential mode: how values map to native buckets.
  exponential_scheme scheme;

  /// Sharded cells per series.
  std::size_t cell_count() const noexcept { return classic ? bound_count + 2 : 1; }
  /// Index of the sum cell; explicit mode's bucket i is cell `first_bucket_cell + i`.
  static constexpr std::size_t sum_cell = 0;
  static constexpr std::size_t first_bucket_cell = 1;

  /// Explicit mode: the lookup's entry for `v`, the first bucket it can
  /// fall in, or no_lookup: a value outside the lookup's range [2^-32, 2^32)
  /// (zero, negatives and NaN included), or in a range holding two bounds.
  /// One unsigned compare finds the first case, instead of clamping.
  std::size_t lookup_entry(double v) const noexcept {
    const std::uint64_t j = lookup_offset(v);
    return j < lookup_entries - 2 ? (lookup_table + 1)[j] : no_lookup;
  }

  /// Explicit mode: the bucket for `v` at its lookup offset `j`
  /// (lookup_offset(v)) below lookup_limit, where every entry names a
  /// bucket: that bucket, or the next when `v` is above its bound.
  std::size_t bucket_at(double v, std::uint64_t j) const noexcept {
    const std::size_t k = (lookup_table + 1)[j];
    return k + !(v <= bounds_with_inf[k]);
  }

  /// lookup_position(v) - 1, unsigned: below lookup_entries - 2 exactly
  /// when `v` is in the lookup's range, so one compare checks both ends.
  static std::uint64_t lookup_offset(double v) noexcept { return static_cast<std::uint64_t>(lookup_position(v)) - 1; }

  /// Explicit mode: the bucket for `v`. NaN lands in +Inf, as in Prometheus clients.
  std::size_t bucket_index(double v) const noexcept {
    const std::size_t k = lookup_entry(v);
    if (k != no_lookup) [[likely]] return k + !(v <= bounds_with_inf[k]);
    return scan(v);
  }

  /// The lookup table's index for `v` (log_linear_index over the lookup's
  /// range, from the exponent and top mantissa bits), as a signed number:
  /// negative values, zero and values below the range come out below 1,
  /// values at or above the range (and positive NaN) at or above the last
  /// entry, which like the first is no_lookup.
  static std::int64_t lookup_position(double v) noexcept {
    constexpr std::int64_t bias = (std::int64_t{1023 + lookup_min_exponent} << sub_bits) - 1;
    return (std::bit_cast<std::int64_t>(v) >> (52 - sub_bits)) - bias;
  }

  /// Explicit mode without the lookup: a binary search.
  std::size_t scan(double v) const noexcept {
    std::size_t lo = 0, hi = bound_count;
    while (lo < hi) {
      std::size_t mid = (lo + hi) / 2;
      if (!(v <= bound_data[mid])) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /// Buckets of a log-linear range: its sub-buckets, one below, one above.
  static constexpr std::size_t log_linear_buckets(int min_exponent, int max_exponent) noexcept {
    return static_cast<std::size_t>(max_exponent - min_exponent) * sub_buckets + 2;
  }
};

}  // namespace detail
OBS_NAMESPACE_END
