// redis_gateway::server: the HTTP side — Boost.Beast on C++20 coroutines.
//
// Each I/O thread runs its own io_context and owns its HTTP connections
// (the acceptor deals them out in turn) and a redis_pipeline. A Redis route
// is answered on its I/O thread: authenticated and rate-limited from memory,
// its command pipelined with the thread's other commands on one connection
// per instance. While that connection is not ready (opening, or broken), the
// command runs on the blocking redis_pool from a worker thread, whose
// connect retries for up to MAX_RETRY_ATTEMPTS x RETRY_DELAY_MS. The /api
// routes and the probes go to the workers too, because PostgreSQL calls
// block. /metrics and the health probes
// are obs::http::handler's, mounted on the API port; with --metrics-listen,
// /metrics moves to an obs::http::server on a management port instead.
// Records http_requests_total, http_request_errors_total and
// http_request_duration_seconds with the route template as `path`.
//
//   server srv(cfg, gw, pool);
//   srv.start();   // throws when the port cannot be bound
#pragma once

#include <cstdint>
#include <memory>

#include "config.hpp"
#include "gateway.hpp"
#include "redis_pool.hpp"

namespace redis_gateway {

/// See the header comment.
class server {
 public:
  /// Keeps every argument by reference.
  server(const config& cfg, gateway& gw, redis_pool& pool);
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
