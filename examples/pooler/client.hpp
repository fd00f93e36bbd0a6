// A client connection: who it logged in as, the pool it uses, the server
// connection it holds, and where it is in its transaction. client.cpp reads
// from it, server.cpp writes the server's answers to it.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <service/relay_socket.hpp>

#include "pgwire/decoder.hpp"
#include "pool.hpp"

namespace pooler {

/// Where a client's credentials came from (SHOW CLIENTS' auth_source).
enum class auth_source { config, auth_query };

/// One client connection.
struct client {
  client(boost::asio::ip::tcp::socket s, std::size_t max_message)
      : socket(std::move(s)), decoder(max_message), session_end(socket.get_executor()), wake(socket.get_executor()) {}
  ::service::relay_socket socket;
  pgwire::decoder decoder;
  /// After login, callbacks carry the session (client.cpp, server.cpp) and
  /// serve_pooled waits on this timer; cancelled when the session ends, with
  /// why in `session_failure` (null: the client said Terminate, or was told
  /// why it ends).
  boost::asio::steady_timer session_end;
  std::exception_ptr session_failure;
  bool session_over = false;
  std::uint64_t id = 0;
  std::string user, database, application_name;
  std::string addr;
  std::uint16_t port = 0;
  auth_source source = auth_source::config;
  bool admin = false;
  std::shared_ptr<pool> pool_;
  std::shared_ptr<server_conn> server;
  std::int32_t cancel_pid = 0, cancel_key = 0;
  std::chrono::system_clock::time_point connect_time = std::chrono::system_clock::now();
  std::chrono::system_clock::time_point request_time = connect_time;
  // Transaction pooling state: the server goes back at ReadyForQuery 'I'
  // only when no Query/Sync is unanswered, nothing is being written to it and
  // no extended-protocol batch is open.
  int pending = 0;
  bool writing = false;
  /// relay() is writing the server's answers to it: a message of our
  /// own now would land inside one of theirs.
  bool replying = false;
  bool extended_open = false;
  /// In its pool's `waiters` (or woken from it to try again).
  bool waiting = false;
  /// A queued client, and for how long it may wait (query_wait_timeout).
  std::chrono::steady_clock::time_point asked, wait_deadline;
  /// The request a client queued in forward() sends once it has a server:
  /// its bytes stay in `decoder`'s buffer, which is not read meanwhile.
  struct held_request {
    std::string_view bytes;
    int answers = 0;
    bool then_end = false;
  };
  std::optional<held_request> held;
  /// A client queued in acquire() waits on this instead: release() hands it
  /// `handed` and cancels the wait, and so does anything that frees a slot
  /// (it tries again) or its deadline passing (it gives up).
  boost::asio::steady_timer wake;
  std::shared_ptr<server_conn> handed;
  bool closing = false;
  bool logged_in = false;
  char tx_status = 'I';
  std::chrono::steady_clock::time_point xact_start, query_start;

  /// Between transactions: nothing unanswered, nothing being sent.
  bool at_boundary() const noexcept { return pending == 0 && !writing && !extended_open && tx_status == 'I'; }
};

}  // namespace pooler
