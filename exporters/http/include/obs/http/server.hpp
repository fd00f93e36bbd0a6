// obs::http::server: the management-port HTTP/1.1 server (Boost.Beast) that
// runs an obs::http::handler, with connection limits and timeouts.
//
// Use it to expose metrics and health probes on their own port; use
// obs::http::serve (registry_source.hpp) for the one-liner on a registry. It
// runs on its own threads, or on an io_context you already run.
//
//   obs::http::options o;
//   o.port = 0;
//   obs::http::server srv(render, o);   // render: std::string(obs::http::format)
//   srv.start();
//   std::printf("listening on %u\n", srv.port());
//
// The I/O threads read requests, write responses and answer the health
// probes; metrics renders and application routes run on `render_threads`
// threads of the server's own, so a liveness probe never waits behind a slow
// scrape.
//
// Defences, all set in obs::http::options: at most `max_connections` open
// connections (the excess gets 503 and is closed); a request must arrive
// within `header_timeout` of its first byte (slowloris); idle keep-alive
// connections close after `idle_timeout`; a reader that stalls is dropped
// after `write_timeout`; headers over `max_header_bytes` get 431, bodies over
// `max_body_bytes` get 413, unparsable requests 400.
//
// This header names no Boost type but io_context, declared, not included: the
// Beast server lives behind a pointer (server-inl.hpp), so with
// obs::http (compiled) a file that only starts the endpoint does not compile
// Beast. Routes and the handler's request types need obs/http/handler.hpp.
//
// Thread safety: start() and stop() may be called from any thread but not
// from a handler; everything the handler does is thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "obs/detail/config.hpp"
#include "obs/http/health.hpp"
#include "obs/http/negotiation.hpp"
#include "obs/http/observer.hpp"
#include "obs/http/options.hpp"

// Declared so a caller's io_context can be passed by reference without
// including Asio here; its definition comes from <boost/asio/io_context.hpp>.
namespace boost::asio {
class io_context;
}  // namespace boost::asio

OBS_NAMESPACE_BEGIN
namespace http {

class handler;  // obs/http/handler.hpp

/// The HTTP server: binds, accepts, and runs a handler on each request.
class server {
 public:
  /// A server that runs `h` on `h->config().threads` threads of its own.
  explicit server(std::shared_ptr<class handler> h);

  /// A server that runs `h` on `ioc`, which the caller runs. `ioc` must outlive
  /// every handler the server queued, i.e. keep running it until stop() is done.
  ///
  ///   boost::asio::io_context ioc;
  ///   obs::http::server srv(ioc, std::make_shared<obs::http::handler>(render));
  server(boost::asio::io_context& ioc, std::shared_ptr<class handler> h);

  /// A server on its own threads serving what `render` produces.
  ///
  ///   obs::http::server srv([](obs::http::format) { return std::string("up 1\n"); });
  explicit server(render_fn render, options opts = {}, std::shared_ptr<observer> events = {});

  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Stops and joins.
  ~server();

  /// Binds `address:port`, starts accepting and, for a server that owns its
  /// threads, starts them. Throws boost::system::system_error (a
  /// std::runtime_error) when the address cannot be bound.
  void start();

  /// Stops accepting and closes every connection. For a server that owns its
  /// threads, returns once they have finished; idempotent.
  void stop();

  /// The bound port (the chosen one when options::port was 0); 0 before start().
  std::uint16_t port() const noexcept;

  /// The handler: add routes (include obs/http/handler.hpp for them).
  ///
  ///   srv.handler().add_route("/metrics/queries", [](const obs::http::request&) {
  ///     return obs::http::json_response(R"({"slow":[]})");
  ///   });
  class handler& handler() noexcept;
  /// Shorthand for handler().health().
  class health& health() noexcept;
  /// Open connections right now.
  std::size_t connections() const noexcept;

 private:
  struct impl;  // the Beast server, in server-inl.hpp
  std::unique_ptr<impl> impl_;
};

}  // namespace http
OBS_NAMESPACE_END

#if OBS_HEADER_ONLY
#include "obs/http/server-inl.hpp"
#endif
