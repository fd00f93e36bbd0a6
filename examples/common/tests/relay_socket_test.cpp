// relay_socket's read: after a short read it makes no recv until the socket's
// next edge, so these check that no byte waits for an edge that never comes.
#include <service/relay_socket.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <functional>
#include <vector>
#include <chrono>
#include <memory>
#include <string>

#include <catch2/catch.hpp>

#include "loopback_pair.hpp"

using service::relay_socket;
using boost::asio::ip::tcp;
namespace asio = boost::asio;

namespace {

using connected_pair = service_test::loopback_pair<relay_socket>;

void send(tcp::socket& s, const std::string& bytes) { asio::write(s, asio::buffer(bytes)); }

/// Reads until the end, or until `on_bytes` says stop; what came, and how
/// the last read ended.
struct reader {
  explicit reader(std::size_t room_size) : room(room_size) {}
  asio::io_context ioc;
  connected_pair pair{ioc};
  std::vector<char> room;
  std::string got;
  int reads = 0;
  boost::system::error_code last;
  std::function<bool(reader&)> on_bytes = [](reader&) { return true; };

  void read_on() {
    pair.near.async_read_when_ready(room, [this](boost::system::error_code ec, std::size_t n) {
      ++reads;
      got.append(room.data(), n);
      last = ec;
      if (!ec && on_bytes(*this)) read_on();
    });
  }
};

}  // namespace

TEST_CASE("relay_socket: bytes that come between a short read and the next read are read", "[relay_socket]") {
  reader r(64);
  asio::steady_timer later(r.ioc);
  send(r.pair.far, "abc");
  SECTION("the next read queued before the loop sees them") {
    r.on_bytes = [](reader& r) {
      // The socket was empty when that read returned; these come before the
      // next read is queued, and their edge must wake it.
      if (r.got == "abc") send(r.pair.far, "def");
      return r.got != "abcdef";
    };
  }
  SECTION("the next read started after the loop saw their edge") {
    r.on_bytes = [&later](reader& r) {
      if (r.got != "abc") return false;
      send(r.pair.far, "def");
      // Meanwhile the loop takes the edge with no read queued: the next
      // read must try at once, as no other edge will come.
      later.expires_after(std::chrono::milliseconds(100));
      later.async_wait([&r](boost::system::error_code) { r.read_on(); });
      return false;
    };
  }
  r.read_on();
  r.ioc.run_for(std::chrono::seconds(5));
  CHECK(r.got == "abcdef");
  CHECK(r.reads == 2);
}

TEST_CASE("relay_socket: a queued read wakes for bytes sent later, and for the end", "[relay_socket]") {
  reader r(64);
  send(r.pair.far, "ab");
  r.on_bytes = [](reader& r) {
    // Sent once the next read is queued.
    if (r.got == "ab") asio::post(r.ioc, [&r] { send(r.pair.far, "cd"); });
    if (r.got == "abcd") asio::post(r.ioc, [&r] { r.pair.far.close(); });
    return true;
  };
  r.read_on();
  r.ioc.run_for(std::chrono::seconds(10));
  CHECK(r.got == "abcd");
  CHECK(r.last == asio::error::eof);
}

TEST_CASE("relay_socket: a read that fills its room reads on at once", "[relay_socket]") {
  reader r(4);
  send(r.pair.far, "0123456789");
  r.on_bytes = [](reader& r) { return r.got.size() < 10; };
  r.read_on();
  r.ioc.run_for(std::chrono::seconds(10));
  CHECK(r.got == "0123456789");
  CHECK(r.reads == 3);
}

TEST_CASE("relay_socket: a read cancelled, or left queued when the io_context goes, lets its handler go",
          "[relay_socket]") {
  std::array<char, 16> room{};
  SECTION("cancelled: called with operation_aborted") {
    reader r(16);
    r.read_on();
    asio::post(r.ioc, [&r] { r.pair.near.cancel(); });
    r.ioc.run_for(std::chrono::seconds(10));
    CHECK(r.reads == 1);
    CHECK(r.last == asio::error::operation_aborted);
  }
  SECTION("io_context destroyed: not called, and what it held is freed") {
    bool called = false;
    std::weak_ptr<connected_pair> watch;
    {
      asio::io_context ioc;
      auto pair = std::make_shared<connected_pair>(ioc);
      watch = pair;
      auto& near = pair->near;
      // The handler owns the socket, as a session's does.
      near.async_read_when_ready(room, [&called, pair = std::move(pair)](boost::system::error_code, std::size_t) {
        called = true;
      });
      ioc.run_for(std::chrono::milliseconds(50));
      REQUIRE_FALSE(watch.expired());
    }
    CHECK(watch.expired());
    CHECK_FALSE(called);
  }
}
