// redis_gateway::server: the HTTP side — Boost.Beast on C++20 coroutines.
//
// I/O threads parse and write. A Redis command whose instance has an idle
// pooled connection is answered on the I/O thread (one round trip); every
// other request goes to a worker pool, because connects and PostgreSQL calls
// block (a Redis connect retries for up to MAX_RETRY_ATTEMPTS x
// RETRY_DELAY_MS). /metrics and the health probes
// are obs::http::handler's, mounted on the API port; with --metrics-listen,
// /metrics moves to an obs::http::server on a management port instead.
// Records http_requests_total, http_request_errors_total and
// http_request_duration_seconds with the route template as `path`.
//
//   server srv(cfg, gw);
//   srv.start();   // throws when the port cannot be bound
#pragma once

#include <cstdint>
#include <memory>

#include "config.hpp"
#include "gateway.hpp"

namespace redis_gateway {

/// See the header comment.
class server {
 public:
  server(const config& cfg, gateway& gw);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Binds, starts the threads and prints the bound addresses on stdout.
  void start();
  /// Stops accepting, closes connections and joins; idempotent.
  void stop();
  /// The API port (the chosen one when --listen asked for port 0).
  std::uint16_t port() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace redis_gateway
