#include "pgwire/codec.hpp"

#include <cstring>

namespace pgwire {
namespace {

template <class T>
T read_be(std::string_view& rest) {
  if (rest.size() < sizeof(T)) throw protocol_error("message body ends inside an integer field");
  unsigned char b[sizeof(T)];
  std::memcpy(b, rest.data(), sizeof(T));
  rest.remove_prefix(sizeof(T));
  std::uint64_t v = 0;
  for (unsigned char byte : b) v = (v << 8) | byte;
  return static_cast<T>(v);
}

template <class T>
void write_be(std::string& out, T value) {
  auto v = static_cast<std::make_unsigned_t<T>>(value);
  for (int shift = (sizeof(T) - 1) * 8; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((v >> shift) & 0xff));
  }
}

}  // namespace

std::int8_t body_reader::int8() { return read_be<std::int8_t>(rest_); }
std::int16_t body_reader::int16() { return read_be<std::int16_t>(rest_); }
std::int32_t body_reader::int32() { return read_be<std::int32_t>(rest_); }

std::string_view body_reader::cstring() {
  auto end = rest_.find('\0');
  if (end == std::string_view::npos) throw protocol_error("string field without a terminating NUL");
  auto s = rest_.substr(0, end);
  rest_.remove_prefix(end + 1);
  return s;
}

std::string_view body_reader::bytes(std::int64_t n) {
  if (n < 0 || static_cast<std::uint64_t>(n) > rest_.size()) {
    throw protocol_error("field length " + std::to_string(n) + " exceeds the message body");
  }
  auto s = rest_.substr(0, static_cast<std::size_t>(n));
  rest_.remove_prefix(static_cast<std::size_t>(n));
  return s;
}

message_writer::message_writer(std::string& out, char type) : out_(out) {
  if (type != '\0') out_.push_back(type);
  length_at_ = out_.size();
  out_.append(4, '\0');
}

message_writer& message_writer::int8(std::int8_t v) {
  write_be(out_, v);
  return *this;
}
message_writer& message_writer::int16(std::int16_t v) {
  write_be(out_, v);
  return *this;
}
message_writer& message_writer::int32(std::int32_t v) {
  write_be(out_, v);
  return *this;
}
message_writer& message_writer::cstring(std::string_view s) {
  out_.append(s.substr(0, s.find('\0')));
  out_.push_back('\0');
  return *this;
}
message_writer& message_writer::bytes(std::string_view s) {
  out_.append(s);
  return *this;
}

void message_writer::finish() {
  auto length = static_cast<std::uint32_t>(out_.size() - length_at_);
  for (int i = 0; i < 4; ++i) {
    out_[length_at_ + i] = static_cast<char>((length >> (24 - 8 * i)) & 0xff);
  }
}

}  // namespace pgwire
