// Talking to PostgreSQL as a client: connecting and logging in (plaintext,
// MD5 pass-the-hash, SCRAM with a password or a client's ClientKey), and the
// small Asio helpers every side of the pooler shares: whole writes, a time
// limit on an operation, a quiet close, an ErrorResponse to send.
//
// Server connections (server.cpp), the auth_query executor (auth_query.cpp)
// and the health probe (health.cpp) all log in through open_backend.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "auth.hpp"
#include "pgwire/decoder.hpp"

namespace pooler {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;

/// Waiting for a server connection or a connect took too long.
class timeout_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// PostgreSQL refused a login or a query; what() is its message.
class backend_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// PostgreSQL's code for "terminating connection due to administrator
/// command", which its own backends send on a fast shutdown.
inline constexpr const char* admin_shutdown = "57P01";

/// An ErrorResponse message.
std::string error_message(const char* severity, const char* sqlstate, std::string message);

/// What a login learned about the server.
struct backend_session {
  std::vector<std::pair<std::string, std::string>> parameters;  ///< ParameterStatus, in order
  std::int32_t process_id = 0;
  std::int32_t secret_key = 0;
};

/// Connects `socket` to host:port (TCP_NODELAY on).
asio::awaitable<void> open_socket(tcp::socket& socket, std::string host, std::uint16_t port);

/// Connects and logs in to PostgreSQL as `user` on `dbname` with whatever
/// `credentials` holds; returns when the server is ready for a query.
/// Throws backend_error when PostgreSQL refuses, boost::system::system_error
/// when the network does.
asio::awaitable<backend_session> open_backend(tcp::socket& socket, pgwire::decoder& decoder, std::string host,
                                              std::uint16_t port, std::string user, std::string dbname,
                                              secret credentials);

template <class Stream>
asio::awaitable<void> write_all(Stream& s, std::string_view bytes) {
  co_await asio::async_write(s, asio::buffer(bytes.data(), bytes.size()), asio::use_awaitable);
}

/// Runs `op`, throwing timeout_error(what) if it takes longer than `d`; the
/// operation is then cancelled. Its own exception is rethrown as it is
/// (awaitable_operators' || would wait for the timer after a failure).
template <class T>
asio::awaitable<T> with_timeout(asio::awaitable<T> op, steady::duration d, const char* what) {
  using namespace asio::experimental::awaitable_operators;
  auto guarded = [](asio::awaitable<T> inner) -> asio::awaitable<std::pair<std::optional<T>, std::exception_ptr>> {
    std::exception_ptr failure;
    try {
      co_return std::pair{std::optional<T>(co_await std::move(inner)), std::exception_ptr{}};
    } catch (...) {
      failure = std::current_exception();
    }
    co_return std::pair{std::optional<T>{}, failure};
  };
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  auto result = co_await (guarded(std::move(op)) || timer.async_wait(asio::use_awaitable));
  if (result.index() == 1) throw timeout_error(what);
  auto& [value, failure] = std::get<0>(result);
  if (failure) std::rethrow_exception(failure);
  co_return std::move(*value);
}

/// The length of the message `d` refused for being longer than `limit`, when
/// that is why its next() threw (the refused header is still unread).
std::optional<std::size_t> oversized(const pgwire::decoder& d, std::size_t limit) noexcept;


/// Shuts down and closes `s`, ignoring errors.
void close_quietly(tcp::socket& s) noexcept;

/// What an exception says, without the source location Boost appends to a
/// system_error's what(): fit for a log line.
std::string describe(const std::exception& e);

}  // namespace pooler
