// The server side: connecting a server connection for a pool, relaying its
// answers to the client that holds it and handing it back to the pool at the
// end of the transaction (or of the session), and forwarding a client's
// CancelRequest to the server running its query.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "pgwire/codec.hpp"
#include "pgwire/messages.hpp"
#include "pgwire/protocol.hpp"
#include "pgwire/stream.hpp"
#include "service.hpp"

namespace pooler {
namespace {

constexpr std::size_t read_size = 16 * 1024;

std::chrono::microseconds since(steady::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - t);
}

}  // namespace

asio::awaitable<std::shared_ptr<server_conn>> service::connect_server(pool& p) {
  auto sv = std::make_shared<server_conn>(ioc_.get_executor(), cfg_.max_message_size);
  sv->id = next_id_++;
  auto session = co_await with_timeout(open_backend(sv->socket, sv->decoder, p.host, p.port, p.user, p.dbname, p.credentials),
                                       cfg_.server_connect_timeout, "timed out connecting to the server");
  // The connect left the descriptor watched for writability too, so every
  // wait for an answer would wake the loop a second time, for nothing: it is
  // registered anew, for reading.
  const auto protocol = sv->socket.local_endpoint().protocol();
  sv->socket.assign(protocol, sv->socket.release());
  sv->process_id = session.process_id;
  sv->secret_key = session.secret_key;
  sv->connect_time = sv->request_time = std::chrono::system_clock::now();
  if (!p.has_parameters) {
    p.parameters = std::move(session.parameters);
    p.has_parameters = true;
  }
  co_return sv;
}

bool service::ends_here(const client& c) const noexcept {
  return c.at_boundary() && (c.pool_->mode == pool_mode::transaction || draining_ || c.pool_->destroyed);
}

void service::relay(std::shared_ptr<client> c, std::shared_ptr<server_conn> sv) {
  for (;;) {
    const char* first = nullptr;
    std::size_t length = 0;
    bool release_now = false;
    try {
      while (auto m = sv->decoder.next()) {
        if (!first) first = m->frame.data();
        length = static_cast<std::size_t>(m->frame.data() + m->frame.size() - first);
        if (m->type == 'Z') {
          auto& stats = c->pool_->stats;
          char status = pgwire::parse_ready_for_query(m->body);
          if (c->pending > 0 && --c->pending == 0) {
            ++stats.query_count;
            stats.query_time += since(c->query_start);
          }
          if (status == 'I' && c->pending == 0) ++stats.xact_count;
          c->tx_status = status;
          if (ends_here(*c)) {
            release_now = true;
            break;  // nothing follows a final ReadyForQuery
          }
        }
      }
    } catch (const pgwire::protocol_error& e) {
      auto too_long = oversized(sv->decoder, cfg_.max_message_size);
      return relay_end(std::move(c), std::move(sv), relay_end_kind::server_failed, e.what(), too_long);
    }
    if (length == 0) {
      // A read in flight (the one an idle connection keeps) brings the rest,
      // or, cancelled, ends the relay for a client that went away.
      if (c->closing) {
        if (!sv->reading) return relay_end(std::move(c), std::move(sv), relay_end_kind::client_gone, {});
        boost::system::error_code ignored;
        sv->socket.cancel(ignored);
        return;
      }
      if (!sv->reading) read_server(std::move(sv));
      return;
    }
    c->pool_->stats.bytes_sent += length;
    // One write when the client's socket takes it all; the rest waits for
    // the client to read, and nothing more is read from the server meanwhile.
    const auto n = ::send(c->socket.native_handle(), first, length, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n != static_cast<ssize_t>(length)) {
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
        return relay_end(std::move(c), std::move(sv), relay_end_kind::client_gone, std::strerror(errno));
      const std::size_t sent = n > 0 ? static_cast<std::size_t>(n) : 0;
      c->replying = true;
      auto& socket = c->socket;
      asio::async_write(socket, asio::buffer(first + sent, length - sent),
                        [this, c = std::move(c), sv = std::move(sv), release_now](const boost::system::error_code& ec,
                                                                                  std::size_t) mutable {
                          c->replying = false;
                          if (ec) return relay_end(std::move(c), std::move(sv), relay_end_kind::client_gone, ec.message());
                          if (release_now && ends_here(*c))
                            return relay_end(std::move(c), std::move(sv), relay_end_kind::released, {});
                          relay(std::move(c), std::move(sv));
                        });
      return;
    }
    if (release_now && ends_here(*c)) return relay_end(std::move(c), std::move(sv), relay_end_kind::released, {});
  }
}

// A read, not a wait: see read_client().
void service::read_server(std::shared_ptr<server_conn> sv) {
  sv->reading = true;
  auto& socket = sv->socket;
  const std::span<char> room = sv->decoder.prepare(read_size);
  socket.async_read_when_ready(room, [this, sv = std::move(sv)](boost::system::error_code ec, std::size_t n) mutable {
    sv->reading = false;
    std::shared_ptr<client> c = sv->link;
    if (!c) {
      // Idle, or handed to a queued client that has sent nothing yet: no
      // answer is due, so bytes or an end are PostgreSQL's goodbye. An
      // aborted read is the pooler closing it.
      if (ec != asio::error::operation_aborted) closed_while_idle(sv);
      return;
    }
    if (ec) {
      // The client's end cancels the read: not the server's failure.
      auto how = c->closing && ec == asio::error::operation_aborted ? relay_end_kind::client_gone
                                                                    : relay_end_kind::server_failed;
      return relay_end(std::move(c), std::move(sv), how, ec.message());
    }
    sv->decoder.commit(n);
    relay(std::move(c), std::move(sv));
  });
}

void service::relay_end(std::shared_ptr<client> c, std::shared_ptr<server_conn> sv, relay_end_kind how,
                        const std::string& failure, std::optional<std::size_t> too_long) {
  c->replying = false;
  if (c->server == sv) c->server = nullptr;
  auto& p = *c->pool_;
  switch (how) {
    case relay_end_kind::released:
      p.stats.xact_time += since(c->xact_start);
      release(p, sv, true);
      if (draining_ || p.destroyed) terminate(*c);
      break;
    case relay_end_kind::server_failed:
      p.m->errors_closed.increment();
      release(p, sv, false);
      std::fprintf(stderr, "pooler: %s: server connection %d lost in use: %s\n", p.service().c_str(),
                   int{sv->process_id}, failure.c_str());
      if (!c->closing) {
        std::string message = "server connection closed";
        if (too_long)
          message = "a message of " + std::to_string(*too_long) + " bytes from the server exceeds the limit of " +
                    std::to_string(cfg_.max_message_size) + " bytes (general.max_message_size)";
        // The answer so far is written: nothing of the server's is in flight.
        auto out = error_message("FATAL", pgwire::sqlstate::connection_failure, message);
        ::send(c->socket.native_handle(), out.data(), out.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        close_quietly(c->socket);
      }
      break;
    case relay_end_kind::client_gone:
      // The client left (or its socket failed): the server is reusable only
      // if it is between transactions; one inside a transaction is closed,
      // never handed to another client.
      asio::co_spawn(
          ioc_,
          [this, c = std::move(c), sv = std::move(sv)]() -> asio::awaitable<void> {
            co_await return_server(c, sv);
            note_server_returned();
          },
          asio::detached);
      return;
  }
  note_server_returned();
}

asio::awaitable<void> service::return_server(std::shared_ptr<client> c, std::shared_ptr<server_conn> sv) {
  bool clean = c->at_boundary();
  if (clean && c->pool_->mode == pool_mode::session && !draining_) {
    try {
      std::string out;
      pgwire::query(out, "DISCARD ALL");
      co_await write_all(sv->socket, out);
      for (;;) {
        auto m = co_await pgwire::async_read_message(sv->socket, sv->decoder);
        if (m.type == 'E') clean = false;
        if (m.type == 'Z') break;
      }
    } catch (const std::exception&) {
      clean = false;
    }
  }
  release(*c->pool_, sv, clean);
}

void service::cancel(std::int32_t pid, std::int32_t key) {
  for (auto& [id, c] : clients_) {
    if (c->cancel_pid != pid || c->cancel_key != key || !c->server || !c->pool_) continue;
    auto target = c->server;
    auto p = c->pool_;
    asio::co_spawn(
        ioc_,
        [target, p]() -> asio::awaitable<void> {
          tcp::socket socket(co_await asio::this_coro::executor);
          co_await open_socket(socket, p->host, p->port);
          std::string out;
          pgwire::cancel_request(out, target->process_id, target->secret_key);
          co_await write_all(socket, out);
        },
        asio::detached);
    return;
  }
}

}  // namespace pooler
