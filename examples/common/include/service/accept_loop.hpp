// Accepting a service's clients. The one policy every listener follows: an
// accept error (EMFILE or ENFILE when descriptors run out, ENOBUFS, ...) is
// counted, logged once per burst, backed off from 10 ms up to 1 s, and then
// accepting resumes. Never a busy spin, never a listener that stops for good.
//
//     co_await service::accept_loop(acceptor, "obs_proxy",
//         [&](tcp::socket s) { co_spawn(io, serve(std::move(s)), detached); },
//         [](const boost::system::error_code&) { accept_errors.increment(); });
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace service {

/// Accepts on `acceptor` until it is closed, handing every connection to
/// `on_accept(socket)` and every failed accept to `on_error(error_code)`.
/// `name` prefixes the log lines on stderr.
template <class OnAccept, class OnError>
boost::asio::awaitable<void> accept_loop(boost::asio::ip::tcp::acceptor& acceptor, std::string name,
                                         OnAccept on_accept, OnError on_error) {
  namespace asio = boost::asio;
  constexpr auto first_backoff = std::chrono::milliseconds(10), max_backoff = std::chrono::milliseconds(1000);
  auto backoff = first_backoff;
  unsigned long failures = 0;
  asio::steady_timer pause(acceptor.get_executor());
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (!acceptor.is_open() || ec == asio::error::operation_aborted) co_return;
    if (ec) {
      on_error(ec);
      if (failures++ == 0) std::fprintf(stderr, "%s: accept failed: %s; retrying\n", name.c_str(), ec.message().c_str());
      // The error usually persists until a connection closes: waiting
      // longer each time keeps a full process from spinning on it.
      pause.expires_after(backoff);
      backoff = std::min(backoff * 2, max_backoff);
      co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    if (failures) {
      std::fprintf(stderr, "%s: accepting again after %lu failed accepts\n", name.c_str(), failures);
      failures = 0;
      backoff = first_backoff;
    }
    on_accept(std::move(socket));
  }
}

}  // namespace service
