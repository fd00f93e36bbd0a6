// Splits a byte stream into protocol messages without copying them.
//
// A decoder owns the bytes read from one connection. Read into `prepare()`,
// `commit()` what arrived, then take messages with `next()` until it returns
// nothing. A message_view points into the decoder and stays valid until the
// next `prepare()`; `frame` is the whole message as it came off the wire, so a
// proxy forwards it unchanged.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "pgwire/protocol.hpp"

namespace pgwire {

/// One message: `type` is 0 for a startup-phase packet, which has none.
struct message_view {
  char type = 0;
  std::string_view body;   ///< the payload after the length field
  std::string_view frame;  ///< type byte (if any), length and body
};

/// Frames messages; throws protocol_error on a length below 4 or above the
/// limit, so a hostile length can never make it allocate.
class decoder {
 public:
  /// The protocol has no maximum; 1 GiB is PostgreSQL's own field limit, and
  /// services set something far lower.
  static constexpr std::size_t default_max_message_bytes = std::size_t{1} << 24;
  /// A startup packet's limit, PostgreSQL's: nothing before authentication
  /// gets more.
  static constexpr std::size_t max_startup_bytes = 10000;

  explicit decoder(std::size_t max_message_bytes = default_max_message_bytes)
      : max_message_bytes_(max_message_bytes) {}

  /// The next message has no type byte (a connection's first, and the one
  /// after an SSLRequest is refused).
  void expect_startup() noexcept { startup_ = true; }

  /// Room for at least `n` more bytes; invalidates earlier message_views.
  std::span<char> prepare(std::size_t n) {
    // Everything received was taken, as after most of a connection's
    // reads: start again at the front, with nothing to slide.
    if (begin_ == size_) begin_ = size_ = 0;
    if (begin_ == 0 && buffer_.size() >= size_ + n) return {buffer_.data() + size_, n};
    return make_room(n);
  }
  /// Marks `n` bytes of the last prepare() as received.
  void commit(std::size_t n) noexcept { size_ += n; }
  /// Copies `bytes` in: prepare + commit, for tests and small inputs.
  void feed(std::string_view bytes);

  /// The next complete message, or nothing until more bytes arrive.
  std::optional<message_view> next() {
    // Inline for a typed message of an allowed length, the one a relay
    // meets on every message; the rest (startup packets, errors) out of line.
    if (startup_) return next_rare();
    if (buffered() < 5) return std::nullopt;
    const char* start = buffer_.data() + begin_;
    const auto* b = reinterpret_cast<const unsigned char*>(start + 1);
    const std::uint32_t length =
        std::uint32_t{b[0]} << 24 | std::uint32_t{b[1]} << 16 | std::uint32_t{b[2]} << 8 | std::uint32_t{b[3]};
    if (length < 4 || length > max_message_bytes_) return next_rare();
    const std::size_t frame_size = std::size_t{length} + 1;
    if (buffered() < frame_size) return std::nullopt;
    begin_ += frame_size;
    return message_view{start[0], {start + 5, length - 4u}, {start, frame_size}};
  }

  /// Bytes received but not yet returned as a message.
  std::size_t buffered() const noexcept { return size_ - begin_; }
  /// Bytes received but not yet returned, e.g. to pass them through raw.
  std::string_view unread() const noexcept { return {buffer_.data() + begin_, size_ - begin_}; }

 private:
  std::span<char> make_room(std::size_t n);
  std::optional<message_view> next_rare();

  std::string buffer_;
  std::size_t begin_ = 0;  // first unread byte
  std::size_t size_ = 0;   // bytes of buffer_ in use
  std::size_t max_message_bytes_;
  bool startup_ = false;
};

}  // namespace pgwire
