// service::relay_stream: a relay_socket (relay_socket.hpp) as the stream
// Beast's HTTP reads and Asio's writes take. Its async_read_some is
// async_read_when_ready, so a keep-alive session waiting for its client's
// next request makes no recv that finds nothing; writes are the socket's.
//
// It has no timeouts: its owner bounds a read or a write by cancelling it
// with cancel(), since a read ignores cancellation slots (so it cannot be
// one side of an awaitable `||`).
//
//   service::relay_stream stream(std::move(socket));
//   co_await http::async_read(stream, buffer, parser, asio::use_awaitable);
//   co_await asio::async_write(stream, asio::buffer(out), asio::use_awaitable);
#pragma once

#include <cstddef>
#include <span>
#include <utility>

#include <boost/asio/append.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>

#include "service/relay_socket.hpp"

namespace service {

/// Room for the handler Beast's HTTP read gives a read: its composed
/// operation, which holds the coroutine's handler and an executor.
inline constexpr std::size_t relay_stream_handler_room = 256;

class relay_stream : public basic_relay_socket<relay_stream_handler_room> {
 public:
  using basic_relay_socket::basic_relay_socket;

  /// Reads into the first buffer of `buffers` when bytes have come (see
  /// relay_socket); one read at a time.
  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const MutableBuffers& b) {
          const auto it = boost::asio::buffer_sequence_begin(b);
          const boost::asio::mutable_buffer first =
              it != boost::asio::buffer_sequence_end(b) ? *it : boost::asio::mutable_buffer();
          // An empty read reads nothing, at once, as Asio's does; the
          // socket's recv would report the stream's end.
          if (first.size() == 0) {
            const std::size_t none = 0;
            return boost::asio::post(get_executor(),
                                     boost::asio::append(std::move(handler), boost::system::error_code(), none));
          }
          async_read_when_ready(std::span<char>(static_cast<char*>(first.data()), first.size()), std::move(handler));
        },
        token, buffers);
  }
};

}  // namespace service
