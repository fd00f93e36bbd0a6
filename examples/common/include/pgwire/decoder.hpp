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
  std::span<char> prepare(std::size_t n);
  /// Marks `n` bytes of the last prepare() as received.
  void commit(std::size_t n) noexcept { size_ += n; }
  /// Copies `bytes` in: prepare + commit, for tests and small inputs.
  void feed(std::string_view bytes);

  /// The next complete message, or nothing until more bytes arrive.
  std::optional<message_view> next();

  /// Bytes received but not yet returned as a message.
  std::size_t buffered() const noexcept { return size_ - begin_; }
  /// Bytes received but not yet returned, e.g. to pass them through raw.
  std::string_view unread() const noexcept { return {buffer_.data() + begin_, size_ - begin_}; }

 private:
  std::string buffer_;
  std::size_t begin_ = 0;  // first unread byte
  std::size_t size_ = 0;   // bytes of buffer_ in use
  std::size_t max_message_bytes_;
  bool startup_ = false;
};

}  // namespace pgwire
