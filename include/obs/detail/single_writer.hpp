// detail::single_writer: adding to a cell that one thread writes and any
// thread may read.
//
// A thread's own slot of a sharded cell (thread_slot.hpp) and its own stripe
// of native counts (exponential_buckets.hpp) have one writer, so an add needs
// no locked read-modify-write: a relaxed load and a relaxed store of the sum
// lose nothing, and a reader sees the old value or the new one. Compilers
// keep an atomic's load, add and store apart: three instructions for a count,
// five for a double, whose bits travel through an integer register. With GCC
// or Clang on x86-64 the same add is one instruction on memory (two for a
// double: `addsd`, `movsd`), the same aligned 8-byte load and store, fused.
// Sanitizer builds keep the portable form, which they see as atomic.
#pragma once

#include <atomic>
#include <bit>
#include <cstdint>

#include "obs/detail/config.hpp"

#if !defined(OBS_FUSED_ADDS)
#if defined(__has_feature)
#define OBS_DETAIL_HAS_SANITIZER __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#else
#define OBS_DETAIL_HAS_SANITIZER 0
#endif
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(__SANITIZE_THREAD__) && \
    !defined(__SANITIZE_ADDRESS__) && !(OBS_DETAIL_HAS_SANITIZER)
#define OBS_FUSED_ADDS 1
#else
#define OBS_FUSED_ADDS 0
#endif
#undef OBS_DETAIL_HAS_SANITIZER
#endif

OBS_NAMESPACE_BEGIN
namespace detail {

inline std::uint64_t double_bits(double v) noexcept { return std::bit_cast<std::uint64_t>(v); }
inline double bits_double(std::uint64_t v) noexcept { return std::bit_cast<double>(v); }

/// `a + b`, or UINT64_MAX when that would wrap: counters saturate instead of
/// silently restarting near zero.
inline std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) noexcept {
  std::uint64_t r;
  return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

#if OBS_FUSED_ADDS
// The cell's value as the operand of an instruction; std::atomic<uint64_t>
// holds exactly one, and the asm is the only access.
inline std::uint64_t& single_writer_value(std::atomic<std::uint64_t>& cell) noexcept {
  return *reinterpret_cast<std::uint64_t*>(&cell);
}
// The Intel-syntax text (-masm=intel) of a memory operand with an
// immediate: GCC prints its size, Clang does not.
#if defined(__clang__)
#define OBS_DETAIL_QWORD "qword ptr "
#else
#define OBS_DETAIL_QWORD ""
#endif
#endif

/// Adds 1 to `cell`, which no other thread writes. For counts that grow by
/// one per record and so cannot reach 2^64.
inline void single_writer_increment(std::atomic<std::uint64_t>& cell) noexcept {
#if OBS_FUSED_ADDS
  asm("add{q $1, %0| " OBS_DETAIL_QWORD "%0, 1}" : "+m"(single_writer_value(cell)) : : "cc");
#else
  // Ordering: relaxed; the cell's one writer, and readers only sum.
  cell.store(cell.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
#endif
}

/// Adds `n` to `cell`, which no other thread writes, saturating at UINT64_MAX.
inline void single_writer_add_u64(std::atomic<std::uint64_t>& cell, std::uint64_t n) noexcept {
#if OBS_FUSED_ADDS
  // The store of UINT64_MAX after a carry is the only branch, never taken
  // by a count below 2^64 - n.
  asm("add{q %1, %0| %0, %1}\n\t"
      "jnc 1f\n\t"
      "mov{q $-1, %0| " OBS_DETAIL_QWORD "%0, -1}\n"
      "1:"
      : "+m"(single_writer_value(cell))
      : "er"(n)
      : "cc");
#else
  // Ordering: relaxed; as in single_writer_increment.
  cell.store(saturating_add(cell.load(std::memory_order_relaxed), n), std::memory_order_relaxed);
#endif
}

/// Adds `v` to the double whose bits `cell` holds, which no other thread writes.
inline void single_writer_add_f64(std::atomic<std::uint64_t>& cell, double v) noexcept {
#if OBS_FUSED_ADDS
  asm("addsd {%0, %1|%1, %0}\n\t"
      "movsd {%1, %0|%0, %1}"
      : "+m"(single_writer_value(cell)), "+x"(v));
#else
  // Ordering: relaxed; as in single_writer_increment.
  cell.store(double_bits(bits_double(cell.load(std::memory_order_relaxed)) + v), std::memory_order_relaxed);
#endif
}

}  // namespace detail
OBS_NAMESPACE_END
