#include "pgwire/decoder.hpp"

#include <cstring>
#include <string>

namespace pgwire {
namespace {

std::uint32_t read_be32(const char* p) noexcept {
  unsigned char b[4];
  std::memcpy(b, p, 4);
  return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) |
         std::uint32_t{b[3]};
}

}  // namespace

std::span<char> decoder::make_room(std::size_t n) {
  // Slide unread bytes to the front before growing, so a long-lived
  // connection's buffer stays as large as its largest message, not its traffic.
  if (begin_ > 0) {
    std::memmove(buffer_.data(), buffer_.data() + begin_, size_ - begin_);
    size_ -= begin_;
    begin_ = 0;
  }
  if (buffer_.size() < size_ + n) buffer_.resize(size_ + n);
  return {buffer_.data() + size_, n};
}

void decoder::feed(std::string_view bytes) {
  auto room = prepare(bytes.size());
  std::memcpy(room.data(), bytes.data(), bytes.size());
  commit(bytes.size());
}

std::optional<message_view> decoder::next_rare() {
  const std::size_t header = startup_ ? 4 : 5;
  if (buffered() < header) return std::nullopt;
  const char* start = buffer_.data() + begin_;
  const char type = startup_ ? '\0' : start[0];
  const std::uint32_t length = read_be32(start + header - 4);
  // The length counts itself; a startup packet needs at least its version too.
  const std::uint32_t minimum = startup_ ? 8 : 4;
  if (length < minimum) {
    throw protocol_error("invalid message length " + std::to_string(length));
  }
  if (startup_ && length > max_startup_bytes) {
    // PostgreSQL's own bound (MAX_STARTUP_PACKET_LENGTH), whatever the limit
    // for later messages: a client not yet authenticated gets no more.
    throw protocol_error("invalid length of startup packet");
  }
  if (length > max_message_bytes_) {
    throw protocol_error("message of " + std::to_string(length) + " bytes exceeds the limit of " +
                         std::to_string(max_message_bytes_));
  }
  const std::size_t frame_size = header - 4 + std::size_t{length};
  if (buffered() < frame_size) return std::nullopt;
  message_view message{type, {start + header, length - 4u}, {start, frame_size}};
  begin_ += frame_size;
  startup_ = false;
  return message;
}

}  // namespace pgwire
