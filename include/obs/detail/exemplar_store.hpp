// detail::exemplar_store: the exemplars of one series, allocated with its
// first exemplar: one slot for a counter, one per bucket for a histogram with
// explicit buckets, a ring of eight for one with native buckets only.
//
// A slot holds the value, the time and the labels encoded as
// "name\0value\0name\0value\0" in atomic words.
//
// Thread safety / memory ordering: each slot is a seqlock. A writer that
// finds the slot being written leaves it to the other writer (an exemplar is
// a sample: one of two racing ones is kept whole); a reader retries a slot
// written while it read, a few times, then leaves it out of that snapshot.
#pragma once

#include <atomic>
#include <bit>
#include <cstdint>
#include <cstring>
#include <new>
#include <string_view>

#include "obs/detail/config.hpp"
#include "obs/detail/utf8.hpp"
#include "obs/exemplar.hpp"
#include "obs/names.hpp"

OBS_NAMESPACE_BEGIN
namespace detail {

struct exemplar_slot {
  /// Bytes of encoded labels a slot holds: 128 code points of up to 4 bytes
  /// each, and a separator after each name and value.
  static constexpr std::size_t text_words = 66;
  static constexpr std::size_t text_capacity = text_words * 8;

  std::atomic<std::uint64_t> sequence{0};  ///< odd while written; 0 until the first write
  std::atomic<std::uint64_t> value_bits{0};
  std::atomic<std::uint64_t> seconds_bits{0};  ///< when, in seconds since the Unix epoch
  std::atomic<std::uint64_t> text_size{0};
  std::atomic<std::uint64_t> text[text_words] = {};

  /// Writes, unless another writer holds the slot.
  void write(double value, double seconds, const char* encoded, std::size_t size) noexcept {
    // Ordering: relaxed; the compare-exchange below is what claims the slot.
    std::uint64_t seen = sequence.load(std::memory_order_relaxed);
    if (seen % 2 == 1) return;
    // Ordering: acquire on success, so the writes below stay after the claim.
    if (!sequence.compare_exchange_strong(seen, seen + 1, std::memory_order_acquire, std::memory_order_relaxed))
      return;
    // Ordering: release; a reader that sees any of the writes below sees the odd sequence.
    std::atomic_thread_fence(std::memory_order_release);
    value_bits.store(std::bit_cast<std::uint64_t>(value), std::memory_order_relaxed);
    seconds_bits.store(std::bit_cast<std::uint64_t>(seconds), std::memory_order_relaxed);
    text_size.store(size, std::memory_order_relaxed);
    for (std::size_t w = 0; w * 8 < size; ++w) {
      std::uint64_t word = 0;
      std::memcpy(&word, encoded + w * 8, size - w * 8 < 8 ? size - w * 8 : 8);
      text[w].store(word, std::memory_order_relaxed);
    }
    // Ordering: release; publishes the writes to readers that acquire it.
    sequence.store(seen + 2, std::memory_order_release);
  }

  /// Copies a consistent exemplar out; false if none was written or it
  /// kept changing. `encoded` must hold text_capacity bytes.
  bool read(double& value, double& seconds, char* encoded, std::size_t& size) const noexcept {
    for (int attempt = 0; attempt < 4; ++attempt) {
      // Ordering: acquire; pairs with the release that ends a write.
      const std::uint64_t before = sequence.load(std::memory_order_acquire);
      if (before == 0) return false;
      if (before % 2 == 1) continue;
      value = std::bit_cast<double>(value_bits.load(std::memory_order_relaxed));
      seconds = std::bit_cast<double>(seconds_bits.load(std::memory_order_relaxed));
      size = text_size.load(std::memory_order_relaxed);
      if (size > text_capacity) continue;
      for (std::size_t w = 0; w * 8 < size; ++w) {
        const std::uint64_t word = text[w].load(std::memory_order_relaxed);
        std::memcpy(encoded + w * 8, &word, size - w * 8 < 8 ? size - w * 8 : 8);
      }
      // Ordering: acquire; the loads above happen before the check below.
      std::atomic_thread_fence(std::memory_order_acquire);
      if (sequence.load(std::memory_order_relaxed) == before) return true;
    }
    return false;
  }
};

struct alignas(exemplar_slot) exemplar_store {
  /// Slots in the ring of a histogram with native buckets only.
  static constexpr std::uint32_t ring_slots = 8;

  std::uint32_t slot_count = 0;
  bool ring = false;
  std::atomic<std::uint32_t> next{0};  ///< the ring's next slot

  exemplar_slot* slots() noexcept { return reinterpret_cast<exemplar_slot*>(this + 1); }
  const exemplar_slot* slots() const noexcept { return reinterpret_cast<const exemplar_slot*>(this + 1); }

  static exemplar_store* create(std::uint32_t slot_count, bool ring) noexcept {
    void* raw = ::operator new(sizeof(exemplar_store) + slot_count * sizeof(exemplar_slot), std::nothrow);
    if (!raw) return nullptr;
    auto* store = ::new (raw) exemplar_store;
    store->slot_count = slot_count;
    store->ring = ring;
    for (std::uint32_t i = 0; i < slot_count; ++i) ::new (store->slots() + i) exemplar_slot;
    return store;
  }

  static void destroy(exemplar_store* store) noexcept {
    if (!store) return;
    for (std::uint32_t i = 0; i < store->slot_count; ++i) store->slots()[i].~exemplar_slot();
    store->~exemplar_store();
    ::operator delete(store);
  }
};

/// What encode_exemplar returns for an exemplar it cannot keep.
inline constexpr std::size_t invalid_exemplar = static_cast<std::size_t>(-1);

/// Encodes `e` as a slot holds it; invalid_exemplar if a label name is
/// invalid, there are too many labels, or they are too long.
inline std::size_t encode_exemplar(const exemplar& e, char (&out)[exemplar_slot::text_capacity]) noexcept {
  if (e.size() > exemplar::max_labels) return invalid_exemplar;
  std::size_t size = 0, code_points = 0;
  for (const exemplar_label& l : e) {
    // The rules a snapshot's exemplars are checked against (snapshot_check.hpp).
    if (!is_valid_label_name(l.name)) return invalid_exemplar;
    if (l.value.find('\0') != std::string_view::npos) return invalid_exemplar;  // the encoding's separator
    code_points += l.name.size() + utf8_code_points(l.value);
    if (code_points > 128 || size + l.name.size() + l.value.size() + 2 > sizeof(out)) return invalid_exemplar;
    std::memcpy(out + size, l.name.data(), l.name.size());
    size += l.name.size();
    out[size++] = '\0';
    if (!l.value.empty()) std::memcpy(out + size, l.value.data(), l.value.size());
    size += l.value.size();
    out[size++] = '\0';
  }
  return size;
}

}  // namespace detail
OBS_NAMESPACE_END
