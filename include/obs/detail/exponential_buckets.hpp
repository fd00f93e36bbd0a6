// detail::exponential_buckets: the bucket index of Prometheus's native
// histograms (https://prometheus.io/docs/specs/native_histograms/), and the
// sparse counts that native and high-resolution histograms record into.
//
// With `base = 2^(2^-schema)`, positive bucket `i` counts values in
// `(base^(i-1), base^i]`, negative bucket `i` the same range negated, and the
// zero bucket every value with `|v| <= zero_threshold`. Counts are kept at
// the configured schema when it is >= 0 and at schema 0 otherwise, so an
// exposition at the configured schema (or at a coarser one, see
// native_histogram_options::max_buckets) merges whole buckets: it is exact,
// never re-bucketed.
//
// Memory follows the observed range. The counts of one power of two (an
// "octave", `(2^o, 2^(o+1)]`: 2^schema buckets) are one page, allocated the
// first time a value lands in it; the page pointers of a stripe (see below)
// are allocated the first time the stripe records. A series thus costs
// `8 * (stripes + 1)` bytes, then `8 + 16 * octaves` per stripe that records,
// then `8 * 2^schema` per octave and sign a stripe has seen (256 bytes at
// schema 5). Values above the configured maximum count in its top bucket.
//
// Thread safety / memory ordering: as high-resolution histograms did, the
// threads holding the first `stripes` slots each own a stripe and add with a
// plain load + store; every other thread adds to the shared stripe with
// fetch_add. Pages and stripes are installed with a compare-exchange
// (release) and read with acquire, so a reader sees a zeroed page or none.
// A snapshot may be torn across buckets, never loses a count.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <new>

#include "obs/detail/config.hpp"
#include "obs/detail/single_writer.hpp"

OBS_NAMESPACE_BEGIN
namespace detail {

/// How values map to native buckets: read by every record, owned by the
/// family's histogram_layout.
struct exponential_scheme {
  using cell = std::atomic<std::uint64_t>;

  /// The schema counts are kept at (>= 0) and its buckets per octave.
  int schema = 0;
  std::uint32_t octave_buckets = 1;
  /// Octaves kept: [min_octave, max_octave); zero_threshold = 2^min_octave.
  int min_octave = 0, max_octave = 0;
  double zero_threshold = 0;
  /// zero_threshold's bits: a magnitude's bits compare with them as it does
  /// with the threshold.
  std::uint64_t zero_threshold_bits = 0;
  /// max_octave - min_octave, and min_octave's biased exponent (1023 + min_octave).
  std::size_t octave_count = 0;
  std::uint64_t min_exponent = 1023;
  /// The bucket within an octave from the top 10 of a mantissa's 52 bits:
  /// `sub_start[c]` is the bucket of a mantissa at the start of cell `c`,
  /// and one compare with `sub_bound_mantissas[sub_start[c]]`, the
  /// mantissa bits of that bucket's upper bound (2^((b + 1) / 2^schema); 2^52,
  /// above every mantissa, for the last bucket), finishes, since a cell
  /// 1/1024 wide holds at most one bound up to schema 8.
  const std::uint16_t* sub_start = nullptr;
  const std::uint64_t* sub_bound_mantissas = nullptr;
  /// Stripes owned by the first slots; one more is shared.
  std::size_t stripes = 0;

  std::size_t octaves() const noexcept { return octave_count; }

  /// Where a value goes: the zero bucket, or page `page` (the octave's index
  /// from min_octave, negatives after the positives) at `bucket`.
  struct position {
    bool zero;
    std::size_t page;
    std::uint32_t bucket;
  };

  /// In integer arithmetic on the bits of the double just below |v|: a
  /// bucket holds (lower, upper], and the double below a value lies in
  /// [lower, upper) exactly when the value lies in (lower, upper], so its
  /// exponent is the octave, a power of two included, and a mantissa at or
  /// above a bound is past it. Nonnegative doubles order as their bits do.
  position locate(double v) const noexcept {
    const std::uint64_t bits = std::bit_cast<std::uint64_t>(v);
    const std::uint64_t magnitude_bits = bits & ~(std::uint64_t{1} << 63);
    if (magnitude_bits <= zero_threshold_bits) return {true, 0, 0};  // NaN's bits are above: the top bucket
    const std::uint64_t below = magnitude_bits - 1;
    const std::uint64_t mantissa = below & ((std::uint64_t{1} << 52) - 1);
    std::uint32_t bucket = sub_start[mantissa >> 42];
    bucket += mantissa >= sub_bound_mantissas[bucket];
    // Above zero_threshold, so at or above min_octave; unsigned, so one
    // compare finds the octaves above max_octave.
    std::size_t octave = (below >> 52) - min_exponent;
    if (octave >= octave_count) [[unlikely]] {
      octave = octave_count - 1;
      bucket = octave_buckets - 1;
    }
    return {false, octave + (bits >> 63) * octave_count, bucket};
  }
};

/// One stripe of a series' counts: its zero bucket, then a page pointer per
/// octave and sign (null until that octave sees a value).
struct exponential_stripe {
  using cell = exponential_scheme::cell;
  using page_pointer = std::atomic<cell*>;
  cell zero{0};

  /// The page pointers, stored right after the stripe (see create).
  page_pointer* pages() noexcept { return reinterpret_cast<page_pointer*>(this + 1); }

  static exponential_stripe* create(std::size_t octaves) noexcept {
    static_assert(sizeof(exponential_stripe) % alignof(page_pointer) == 0);
    void* raw = ::operator new(sizeof(exponential_stripe) + 2 * octaves * sizeof(page_pointer), std::nothrow);
    if (!raw) return nullptr;
    auto* s = ::new (raw) exponential_stripe;
    for (std::size_t i = 0; i < 2 * octaves; ++i) ::new (s->pages() + i) page_pointer(nullptr);
    return s;
  }

  static void destroy(exponential_stripe* s, std::size_t octaves) noexcept {
    if (!s) return;
    for (std::size_t i = 0; i < 2 * octaves; ++i) delete[] s->pages()[i].load(std::memory_order_relaxed);
    s->~exponential_stripe();
    ::operator delete(s);
  }
};

/// Installs what `slot` points at, made by `make`, unless another thread
/// did first; returns what is installed (null if allocation failed).
template <class T, class Make, class Free>
T* install_once(std::atomic<T*>& slot, Make make, Free free) noexcept {
  T* made = make();
  if (!made) return nullptr;
  T* expected = nullptr;
  // Ordering: release publishes the zeroed memory; acquire on failure reads the winner's.
  if (slot.compare_exchange_strong(expected, made, std::memory_order_release, std::memory_order_acquire))
    return made;
  free(made);
  return expected;
}

/// The count at `at` in the stripe `stripe_slot` points to; null until
/// the stripe and the page exist (first_page makes them).
inline exponential_scheme::cell* existing_count(const std::atomic<exponential_stripe*>& stripe_slot,
                                                exponential_scheme::position at) noexcept {
  // Ordering: acquire; pairs with install_once's release, so the page is seen zeroed.
  exponential_stripe* s = stripe_slot.load(std::memory_order_acquire);
  if (!s) [[unlikely]] return nullptr;
  if (at.zero) return &s->zero;
  exponential_scheme::cell* page = s->pages()[at.page].load(std::memory_order_acquire);
  return page ? page + at.bucket : nullptr;
}

/// Out of line: a stripe's or a page's first value. False if memory ran out.
[[gnu::cold]] inline exponential_scheme::cell* first_page(std::atomic<exponential_stripe*>& stripe_slot,
                                                         const exponential_scheme& scheme,
                                                         exponential_scheme::position at) noexcept {
  const std::size_t octaves = scheme.octaves();
  // Ordering: acquire; pairs with install_once's release.
  exponential_stripe* stripe = stripe_slot.load(std::memory_order_acquire);
  if (!stripe) {
    stripe = install_once(
        stripe_slot, [&] { return exponential_stripe::create(octaves); },
        [&](exponential_stripe* s) { exponential_stripe::destroy(s, octaves); });
    if (!stripe) return nullptr;
  }
  if (at.zero) return &stripe->zero;
  using cell = exponential_scheme::cell;
  cell* page = stripe->pages()[at.page].load(std::memory_order_acquire);
  if (!page) {
    page = install_once(
        stripe->pages()[at.page], [&] { return new (std::nothrow) cell[scheme.octave_buckets](); },
        [](cell* p) { delete[] p; });
    if (!page) return nullptr;
  }
  return page + at.bucket;
}

/// Counts `v` in the stripe `stripe` of `stripes` (one pointer per stripe):
/// exclusively when `exclusive`, else atomically. False if a page could not
/// be allocated (the caller counts the value as refused).
inline bool record_exponential(std::atomic<exponential_stripe*>* stripes, std::size_t stripe, bool exclusive,
                               const exponential_scheme& scheme, double v) noexcept {
  using cell = exponential_scheme::cell;
  const exponential_scheme::position at = scheme.locate(v);
  cell* count = existing_count(stripes[stripe], at);
  if (!count) [[unlikely]] {
    count = first_page(stripes[stripe], scheme, at);
    if (!count) return false;
  }
  if (exclusive) {
    single_writer_increment(*count);  // this thread is the stripe's only writer
  } else {
    // Ordering: relaxed; the shared stripe needs atomicity, not ordering.
    count->fetch_add(1, std::memory_order_relaxed);
  }
  return true;
}

/// Observations counted in a series' stripes. Walks every page.
inline std::uint64_t exponential_total(const std::atomic<exponential_stripe*>* stripes,
                                       const exponential_scheme& scheme) noexcept {
  std::uint64_t total = 0;
  for (std::size_t k = 0; k <= scheme.stripes; ++k) {
    // Ordering: acquire; pairs with install_once's release.
    exponential_stripe* s = stripes[k].load(std::memory_order_acquire);
    if (!s) continue;
    // Ordering: relaxed; a count may be torn across stripes.
    total += s->zero.load(std::memory_order_relaxed);
    for (std::size_t p = 0; p < 2 * scheme.octaves(); ++p) {
      const exponential_scheme::cell* page = s->pages()[p].load(std::memory_order_acquire);
      if (!page) continue;
      for (std::uint32_t b = 0; b < scheme.octave_buckets; ++b) total += page[b].load(std::memory_order_relaxed);
    }
  }
  return total;
}

}  // namespace detail
OBS_NAMESPACE_END
