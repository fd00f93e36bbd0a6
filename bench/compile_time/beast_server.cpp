// Compile-time case, the rival of obs_http_serve.cpp: a bare Boost.Beast
// HTTP/1.1 server on its own thread, answering every request with a text body
// (async accept, read and write over a tcp_stream, as Beast's
// http_server_async example does), with none of obs's routing, negotiation,
// gzip, auth, health probes or timeouts.
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <memory>
#include <string>
#include <thread>

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

class session : public std::enable_shared_from_this<session> {
 public:
  explicit session(tcp::socket socket) : stream_(std::move(socket)) {}
  void read() {
    req_ = {};
    http::async_read(stream_, buffer_, req_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (!ec) self->write();
    });
  }

 private:
  void write() {
    res_ = http::response<http::string_body>(http::status::ok, req_.version());
    res_.set(http::field::content_type, "text/plain; version=0.0.4");
    res_.body() = "requests_total 1\n";
    res_.keep_alive(req_.keep_alive());
    res_.prepare_payload();
    http::async_write(stream_, res_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (!ec && self->res_.keep_alive()) self->read();
    });
  }
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> req_;
  http::response<http::string_body> res_;
};

struct server {
  net::io_context ioc;
  tcp::acceptor acceptor{net::make_strand(ioc), {net::ip::make_address("127.0.0.1"), 9464}};
  std::thread thread;
  void accept() {
    acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
      if (!ec) std::make_shared<session>(std::move(socket))->read();
      accept();
    });
  }
  ~server() {
    ioc.stop();
    thread.join();
  }
};

std::unique_ptr<server> start_metrics() {
  auto srv = std::make_unique<server>();
  srv->accept();
  srv->thread = std::thread([s = srv.get()] { s->ioc.run(); });
  return srv;
}
