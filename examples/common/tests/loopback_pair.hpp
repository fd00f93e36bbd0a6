// Two connected TCP sockets on the loopback interface, for the tests of the
// relay reads: `far`, a plain socket, writes what `near`, the socket under
// test made from the accepted one, reads.
//
//   asio::io_context ioc;
//   service_test::loopback_pair<service::relay_socket> pair(ioc);
//   asio::write(pair.far, asio::buffer("abc", 3));
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace service_test {

template <class Near>
struct loopback_pair {
  explicit loopback_pair(boost::asio::io_context& ioc)
      : acceptor(ioc, {boost::asio::ip::address_v4::loopback(), 0}),
        far(ioc),
        near((far.connect(acceptor.local_endpoint()), acceptor.accept())) {}
  boost::asio::ip::tcp::acceptor acceptor;
  boost::asio::ip::tcp::socket far;
  Near near;
};

}  // namespace service_test
