// A blocking HTTP/1.1 test client over Beast with socket timeouts, so a test
// that the server fails hangs for seconds, not forever.
#pragma once

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <cstdint>
#include <stdexcept>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <zlib.h>

namespace obs_test {

namespace net = boost::asio;
namespace bh = boost::beast::http;
using reply = bh::response<bh::string_body>;

/// One keep-alive connection to 127.0.0.1:port.
class connection {
 public:
  explicit connection(std::uint16_t port, int timeout_seconds = 5) : socket_(ioc_) {
    socket_.connect({net::ip::make_address("127.0.0.1"), port});
    timeval tv{timeout_seconds, 0};
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }

  /// Sends a request and reads its response. Throws on transport errors.
  reply request(bh::verb method, std::string_view target,
                std::initializer_list<std::pair<std::string_view, std::string_view>> fields = {},
                std::string body = {}) {
    bh::request<bh::string_body> req{method, target, 11};
    req.set(bh::field::host, "127.0.0.1");
    for (const auto& [name, value] : fields) req.set(name, value);
    if (!body.empty() || method == bh::verb::post) {
      req.body() = std::move(body);
      req.prepare_payload();
    }
    bh::write(socket_, req);
    return read_reply(method == bh::verb::head);
  }

  reply get(std::string_view target,
            std::initializer_list<std::pair<std::string_view, std::string_view>> fields = {}) {
    return request(bh::verb::get, target, fields);
  }

  /// Reads one response (headers only for a HEAD).
  reply read_reply(bool head = false) {
    bh::response_parser<bh::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    parser.skip(head);
    bh::read(socket_, buffer_, parser);
    return parser.release();
  }

  void send_raw(std::string_view bytes) { net::write(socket_, net::buffer(bytes.data(), bytes.size())); }

  /// Whether the server closes the connection (EOF or reset) before the read
  /// timeout; reads and drops any bytes it sends first.
  bool closed_by_peer() {
    char buf[4096];
    for (;;) {
      boost::system::error_code ec;
      socket_.read_some(net::buffer(buf), ec);
      if (ec == net::error::eof || ec == net::error::connection_reset) return true;
      if (ec) return false;  // timeout (EAGAIN) or anything else
    }
  }

  net::ip::tcp::socket& socket() { return socket_; }

 private:
  net::io_context ioc_;
  net::ip::tcp::socket socket_;
  boost::beast::flat_buffer buffer_;
};

/// Decompresses a gzip member with zlib (windowBits 15 + 16: gzip only).
inline std::string gunzip(std::string_view in) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) throw std::runtime_error("inflateInit2");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  std::string out;
  char buf[16384];
  int rc = Z_OK;
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buf, sizeof buf - zs.avail_out);
  }
  inflateEnd(&zs);
  if (rc != Z_STREAM_END) throw std::runtime_error("gunzip: corrupt gzip stream");
  return out;
}

}  // namespace obs_test
