// Reading fields out of a message body, and writing framed messages.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "pgwire/protocol.hpp"

namespace pgwire {

/// Reads big-endian integers and NUL-terminated strings from a body; every
/// read past the end throws protocol_error instead of reading garbage.
class body_reader {
 public:
  explicit body_reader(std::string_view body) noexcept : rest_(body) {}

  std::int8_t int8();
  std::int16_t int16();
  std::int32_t int32();
  /// A NUL-terminated string, without its NUL.
  std::string_view cstring();
  /// Exactly `n` bytes (n < 0 is a protocol error).
  std::string_view bytes(std::int64_t n);
  /// Whatever is left.
  std::string_view rest() noexcept { return std::exchange(rest_, {}); }

  bool empty() const noexcept { return rest_.empty(); }

 private:
  std::string_view rest_;
};

/// Appends one framed message to a buffer. Fields go between the
/// constructor and `finish()`, which patches the length in:
///
///     std::string out;
///     message_writer(out, 'Z').int8('I').finish();
class message_writer {
 public:
  /// `type` 0 writes a startup-phase packet, which has no type byte.
  message_writer(std::string& out, char type);

  message_writer& int8(std::int8_t v);
  message_writer& int16(std::int16_t v);
  message_writer& int32(std::int32_t v);
  /// The string and a terminating NUL. A NUL inside `s` would end the field
  /// early on the other side, so the field is cut at the first one.
  message_writer& cstring(std::string_view s);
  message_writer& bytes(std::string_view s);
  void finish();

 private:
  std::string& out_;
  std::size_t length_at_;
};

}  // namespace pgwire
