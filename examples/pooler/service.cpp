// The service's frame: its listener, and its end (a graceful drain on
// SIGTERM, or closing everything at once).
#include "service.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <service/accept_loop.hpp>

#include <sys/eventfd.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "pgwire/protocol.hpp"

namespace pooler {

service::service(asio::io_context& ioc, config cfg, std::string config_path)
    : ioc_(ioc), cfg_(std::move(cfg)), config_path_(std::move(config_path)), acceptor_(ioc), gc_timer_(ioc),
      wait_timer_(ioc), drained_(ioc), drain_requested_(ioc) {
  drain_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (drain_fd_ < 0) throw boost::system::system_error(errno, boost::system::system_category(), "eventfd");
  drain_requested_.assign(drain_fd_);
  apply_databases(cfg_.databases);
}

service::~service() { stop(); }

void service::start() {
  tcp::resolver resolver(ioc_);
  auto endpoint = *resolver.resolve(cfg_.listen.host, std::to_string(cfg_.listen.port)).begin();
  acceptor_.open(endpoint.endpoint().protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen();
  // `::service` is the services' shared skeleton, not this class.
  asio::co_spawn(ioc_,
                 ::service::accept_loop(
                     acceptor_, "pooler", [this](tcp::socket socket) { accept(std::move(socket)); },
                     [this](const boost::system::error_code&) { m_.accept_errors.increment(); }),
                 asio::detached);
  asio::co_spawn(ioc_, gc_loop(), asio::detached);
  drain_requested_.async_wait(asio::posix::stream_descriptor::wait_read, [this](const boost::system::error_code& ec) {
    if (!ec) asio::co_spawn(ioc_, drain(), asio::detached);
  });
}

void service::request_drain() noexcept {
  // The descriptor stays open until the service is destroyed: no other
  // file can have taken its number.
  ::eventfd_write(drain_fd_, 1);
}

void service::accept(tcp::socket socket) {
  if (clients_.size() >= cfg_.max_client_conn) {
    // A fresh socket's buffer takes the whole message; the client is not waited for.
    auto out = error_message("FATAL", pgwire::sqlstate::too_many_connections, "no more connections allowed");
    ::send(socket.native_handle(), out.data(), out.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    return;
  }
  boost::system::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  auto c = std::make_shared<client>(std::move(socket), cfg_.max_message_size);
  c->id = next_id_++;
  auto remote = c->socket.remote_endpoint(ec);
  if (!ec) {
    c->addr = remote.address().to_string();
    c->port = remote.port();
  }
  asio::co_spawn(ioc_, handle_client(c), asio::detached);
}

asio::awaitable<void> service::drain() {
  const auto deadline = steady::now() + cfg_.shutdown_timeout;
  draining_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  gc_timer_.cancel();
  // Clients between transactions, logging in or queued for a server are
  // told at once; those in a transaction are told when it ends (server.cpp).
  std::vector<std::shared_ptr<client>> idle;
  for (auto& [id, c] : clients_)
    if (!c->server || c->at_boundary()) idle.push_back(c);
  for (auto& c : idle) terminate(*c);
  for (auto& [key, p] : pools_)
    while (!p->waiters.empty()) wake_first(*p);
  auto holding = [this] { return std::any_of(clients_.begin(), clients_.end(), [](auto& e) { return e.second->server != nullptr; }); };
  if (holding()) {
    drained_.expires_at(deadline);
    co_await drained_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  // Past the deadline: the transactions left are cut off, as PostgreSQL's
  // fast shutdown would, and their clients told so.
  for (auto& [id, c] : clients_) {
    if (!c->server) continue;
    close_quietly(c->server->socket);
    terminate(*c);
  }
  stop();
  ioc_.stop();
}

void service::note_server_returned() {
  if (!draining_) return;
  for (auto& [id, c] : clients_)
    if (c->server) return;
  drained_.cancel();
}

void service::stop() {
  if (stopped_) return;
  stopped_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  gc_timer_.cancel();
  wait_timer_.cancel();
  drain_requested_.cancel(ignored);
  for (auto& [id, c] : clients_) close_quietly(c->socket);
  for (auto& [key, p] : pools_) {
    p->waiters.clear();  // they hold their clients, which hold the pool
    for (auto& sv : p->idle) close_quietly(sv->socket);
    for (auto& sv : p->busy) {
      close_quietly(sv->socket);
      sv->link = nullptr;  // no answer is relayed after a stop; frees the client it was lent to
    }
  }
  for (auto& [name, db] : databases_)
    if (db->exec) retire(*db->exec);
}

std::uint16_t service::port() const { return acceptor_.local_endpoint().port(); }

}  // namespace pooler
