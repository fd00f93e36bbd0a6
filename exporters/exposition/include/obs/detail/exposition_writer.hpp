// obs::detail::output_writer: appends an exporter's output to a std::string
// through a raw cursor, so each piece costs a bounds check and a memcpy.
//
// Use one per render call. `std::string::operator+=` re-checks capacity and
// updates the size for every piece, which is most of the cost of a render;
// the writer instead grows the string once up front (by an estimate), writes
// into it, and trims it to the bytes written when it goes out of scope.
// When the estimate falls short it grows the string geometrically.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "obs/detail/config.hpp"
#include "obs/detail/exposition_numbers.hpp"
#include "obs/snapshot.hpp"

OBS_NAMESPACE_BEGIN
namespace detail {

/// Writes to the end of a string; see the file comment.
class output_writer {
 public:
  /// Starts writing after the current contents of `out`, with room for
  /// `expected` more bytes.
  output_writer(std::string& out, std::size_t expected) : out_(out), used_(out.size()) {
    out_.resize(used_ + expected);
  }
  ~output_writer() { out_.resize(used_); }
  output_writer(const output_writer&) = delete;
  output_writer& operator=(const output_writer&) = delete;

  /// Makes room for `n` more bytes at the cursor.
  void reserve(std::size_t n) {
    if (n > out_.size() - used_) grow(n);
  }

  void put(char c) {
    reserve(1);
    out_[used_++] = c;
  }
  void put(std::string_view text) {
    // memcpy wants a valid pointer even for zero bytes; an empty view may
    // hold null.
    if (text.empty()) return;
    reserve(text.size());
    std::memcpy(out_.data() + used_, text.data(), text.size());
    used_ += text.size();
  }
  /// Writes again the `size` bytes already written at offset `pos`.
  void repeat(std::size_t pos, std::size_t size) {
    reserve(size);
    std::memcpy(out_.data() + used_, out_.data() + pos, size);
    used_ += size;
  }

  /// The shortest round-trip text of `v` (`+Inf`, `-Inf`, `NaN` too).
  void put_double(double v) { put_formatted(format_double, v); }
  /// `v` as Go's `FormatFloat(v, 'g', -1, 64)` writes it.
  void put_go_float(double v) { put_formatted(format_go_float, v); }
  /// An OpenMetrics canonical number.
  void put_canonical_float(double v) { put_formatted(format_canonical_float, v); }
  void put_uint(std::uint64_t v) {
    const fmt::format_int text(v);
    put(std::string_view(text.data(), text.size()));
  }
  /// A sample value: exact digits for an integer, else as a double.
  void put_number(number n) {
    if (n.is_integer()) put_uint(n.as_integer());
    else put_double(n.as_double());
  }

  /// Bytes written so far, counting what `out` held before.
  std::size_t size() const noexcept { return used_; }

 private:
  // Out of line, so the common path of every put() stays small enough to
  // inline.
#if defined(__GNUC__)
  __attribute__((noinline))
#endif
  void grow(std::size_t n) {
    out_.resize(std::max(2 * out_.size(), used_ + n));
  }

  void put_formatted(char* (*format)(double, char*), double v) {
    reserve(number_buffer_size);
    char* begin = out_.data();
    used_ = static_cast<std::size_t>(format(v, begin + used_) - begin);
  }

  std::string& out_;
  std::size_t used_;
};

}  // namespace detail
OBS_NAMESPACE_END
