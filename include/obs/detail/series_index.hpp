// detail::series_index: a family's attached series, found by the hash of
// their label values, for the lookups that miss a thread's lookup cache.
//
// Open addressing with linear probing over series pointers: the hash is kept
// in the series, so an entry costs 8 bytes, and the table stays between 3/8
// and 3/4 full, about 14 bytes a series, where a node-based multimap costs
// 40 (a node and a bucket pointer). Removal shifts the entries after the hole
// back (no tombstones), so lookups never slow down after churn.
//
// Not thread-safe: the family's mutex guards it.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <utility>

#include "obs/detail/config.hpp"
#include "obs/detail/series_state.hpp"

OBS_NAMESPACE_BEGIN
namespace detail {

class series_index {
 public:
  series_index() = default;
  /// Takes `other`'s series, leaving it empty.
  series_index(series_index&& other) noexcept
      : slots_(std::move(other.slots_)),
        mask_(std::exchange(other.mask_, 0)),
        shift_(std::exchange(other.shift_, 64)),
        size_(std::exchange(other.size_, 0)) {}
  series_index& operator=(series_index&&) = delete;

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }

  /// The series with these values and their hash, or nullptr.
  series_state* find(std::span<const std::string_view> values, std::uint64_t hash) const noexcept {
    if (size_ == 0) return nullptr;
    for (std::size_t i = home(hash);; i = (i + 1) & mask_) {
      series_state* s = slots_[i];
      if (s == nullptr) return nullptr;
      if (s->hash == hash && s->matches(values)) return s;
    }
  }

  /// Adds `s`, which must not be in the index. Throws std::bad_alloc, and
  /// then leaves the index as it was.
  void insert(series_state* s) {
    if ((size_ + 1) * 4 > capacity() * 3) grow();
    place(s);
    ++size_;
  }

  /// Removes `s` if it is in the index.
  void erase(const series_state* s) noexcept {
    if (size_ == 0) return;
    std::size_t hole = home(s->hash);
    while (slots_[hole] != s) {
      if (slots_[hole] == nullptr) return;
      hole = (hole + 1) & mask_;
    }
    // Move back every later entry of the run that may sit at the hole: one
    // whose home is not cyclically within (hole, at].
    for (std::size_t at = (hole + 1) & mask_; slots_[at] != nullptr; at = (at + 1) & mask_) {
      const std::size_t wanted = home(slots_[at]->hash);
      const bool stays = hole <= at ? (hole < wanted && wanted <= at) : (hole < wanted || wanted <= at);
      if (!stays) {
        slots_[hole] = slots_[at];
        hole = at;
      }
    }
    slots_[hole] = nullptr;
    --size_;
  }

  /// Calls `f(series_state*)` for every series, in no particular order; `f`
  /// must not change the index.
  template <class F>
  void for_each(F&& f) const {
    for (std::size_t i = 0; i < capacity(); ++i)
      if (slots_[i] != nullptr) f(slots_[i]);
  }

 private:
  std::size_t capacity() const noexcept { return slots_ ? mask_ + 1 : 0; }

  /// Where a hash's probe starts: its top bits after a multiply, since the
  /// label hash's low bits mix less than its high ones.
  std::size_t home(std::uint64_t hash) const noexcept {
    return static_cast<std::size_t>((hash * 0x9e3779b97f4a7c15ull) >> shift_);
  }

  void place(series_state* s) noexcept {
    std::size_t i = home(s->hash);
    while (slots_[i] != nullptr) i = (i + 1) & mask_;
    slots_[i] = s;
  }

  void grow() {
    const std::size_t old_capacity = capacity();
    const std::size_t new_capacity = old_capacity ? 2 * old_capacity : 8;
    std::unique_ptr<series_state*[]> old = std::move(slots_);
    try {
      slots_ = std::make_unique<series_state*[]>(new_capacity);
    } catch (...) {
      slots_ = std::move(old);
      throw;
    }
    mask_ = new_capacity - 1;
    shift_ = static_cast<unsigned>(64 - std::countr_zero(new_capacity));
    for (std::size_t i = 0; i < old_capacity; ++i)
      if (old[i] != nullptr) place(old[i]);
  }

  std::unique_ptr<series_state*[]> slots_;  ///< value-initialised: all nullptr
  std::size_t mask_ = 0;                   ///< capacity - 1; capacity is a power of two
  unsigned shift_ = 64;                    ///< 64 - log2(capacity)
  std::size_t size_ = 0;
};

}  // namespace detail
OBS_NAMESPACE_END
