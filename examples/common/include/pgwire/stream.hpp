// Reading whole protocol messages from an Asio stream, in coroutines.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "pgwire/decoder.hpp"

namespace pgwire {

/// Reads until `d` holds a complete message and returns it, calling
/// `on_read(n)` after each read of n bytes from the stream (a byte count that
/// costs one add per read rather than one per message, and that includes
/// bytes still undecoded). Throws boost::system::system_error when the peer
/// goes away (asio::error::eof on a clean close) and protocol_error on
/// malformed framing.
///
///     pgwire::decoder d;
///     d.expect_startup();
///     auto packet = co_await pgwire::async_read_message(socket, d);
template <class AsyncReadStream, class OnRead>
boost::asio::awaitable<message_view> async_read_message(AsyncReadStream& stream, decoder& d, OnRead on_read) {
  // 16 KiB per read: large enough for a page of DataRows in one syscall.
  constexpr std::size_t read_size = 16 * 1024;
  for (;;) {
    if (auto message = d.next()) co_return *message;
    auto room = d.prepare(read_size);
    std::size_t n = co_await stream.async_read_some(boost::asio::buffer(room.data(), room.size()),
                                                    boost::asio::use_awaitable);
    d.commit(n);
    on_read(n);
  }
}

template <class AsyncReadStream>
boost::asio::awaitable<message_view> async_read_message(AsyncReadStream& stream, decoder& d) {
  return async_read_message(stream, d, [](std::size_t) {});
}

}  // namespace pgwire
