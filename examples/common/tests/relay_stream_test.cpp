// relay_stream under Beast's HTTP read and Asio's write, as a session uses
// it: requests that come whole, split, pipelined or not at all.
#include <service/relay_stream.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "loopback_pair.hpp"

namespace asio = boost::asio;
namespace http = boost::beast::http;
using boost::asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

struct served {
  std::vector<std::string> targets;  // of the requests read, in order
  boost::system::error_code last;    // how the last read ended
};

// Reads requests from `stream` and answers each "ok", until a read fails.
asio::awaitable<void> serve(service::relay_stream& stream, served& out) {
  boost::beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    boost::system::error_code ec;
    co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      out.last = ec;
      co_return;
    }
    out.targets.emplace_back(parser.get().target());
    const std::string answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    co_await asio::async_write(stream, asio::buffer(answer), asio::use_awaitable);
  }
}

// `client` sends requests to `server`, which serve() answers.
struct connection {
  asio::io_context ioc;
  service_test::loopback_pair<service::relay_stream> pair{ioc};
  tcp::socket& client = pair.far;
  service::relay_stream& server = pair.near;
  served out;

  void start() { asio::co_spawn(ioc, serve(server, out), asio::detached); }
  void send(const std::string& bytes) { asio::write(client, asio::buffer(bytes)); }
  // The answers so far: each is 40 bytes.
  std::size_t answers_waiting() { return client.available(); }
};

const std::string get_a = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
const std::string get_b = "GET /b HTTP/1.1\r\nHost: x\r\n\r\n";

}  // namespace

TEST_CASE("relay_stream: pipelined requests are read from the buffer, then the stream's end", "[relay_stream]") {
  connection c;
  c.send(get_a + get_b);
  c.client.shutdown(tcp::socket::shutdown_send);
  c.start();
  c.ioc.run_for(5s);
  CHECK(c.out.targets == std::vector<std::string>{"/a", "/b"});
  CHECK(c.out.last == http::error::end_of_stream);
  CHECK(c.answers_waiting() == 80);
}

TEST_CASE("relay_stream: a request split across sends, and the next one after its answer", "[relay_stream]") {
  connection c;
  c.start();
  asio::steady_timer step(c.ioc);
  // Each part is sent once the read before it found the socket empty.
  c.send(get_a.substr(0, 10));
  step.expires_after(50ms);
  step.async_wait([&](boost::system::error_code) {
    c.send(get_a.substr(10));
    step.expires_after(50ms);
    step.async_wait([&](boost::system::error_code) {
      CHECK(c.answers_waiting() == 40);
      c.send(get_b);
      step.expires_after(50ms);
      step.async_wait([&](boost::system::error_code) { c.client.shutdown(tcp::socket::shutdown_send); });
    });
  });
  c.ioc.run_for(5s);
  CHECK(c.out.targets == std::vector<std::string>{"/a", "/b"});
  CHECK(c.out.last == http::error::end_of_stream);
}

TEST_CASE("relay_stream: a cancelled read ends with operation_aborted", "[relay_stream]") {
  connection c;
  c.start();
  asio::steady_timer later(c.ioc);
  later.expires_after(50ms);
  later.async_wait([&](boost::system::error_code) { c.server.cancel(); });
  c.ioc.run_for(5s);
  CHECK(c.out.targets.empty());
  CHECK(c.out.last == asio::error::operation_aborted);
}

TEST_CASE("relay_stream: an empty read reads nothing and is not the end", "[relay_stream]") {
  connection c;
  c.send("x");
  boost::system::error_code ec = asio::error::fault;
  std::size_t n = 1;
  c.server.async_read_some(asio::mutable_buffer(), [&](boost::system::error_code e, std::size_t got) {
    ec = e;
    n = got;
  });
  c.ioc.run_for(1s);
  CHECK_FALSE(ec);
  CHECK(n == 0);
}
