// redis_gateway::server: the HTTP side — Boost.Beast on C++20 coroutines —
// and where each request runs.
//
// Each I/O thread runs its own io_context, owns the HTTP connections the
// listener deals it in turn, and a redis_pipeline. Nothing on an I/O thread
// waits for an upstream:
//   - a Redis route is admitted from memory and its command pipelined; the
//     request waits for the reply on no thread;
//   - /health/live and /metrics (obs::http::handler's) are answered there;
//   - /health and /health/ready wait for the upstream checks (at most
//     --health-timeout-ms), on two threads of their own;
//   - the /api routes query PostgreSQL, on the --workers threads.
// So no upstream, hung or retrying, holds up a probe, a scrape or another
// tenant's commands. With --metrics-listen, main() serves /metrics on a
// management port instead and this port answers 404 there.
//
// A client has --client-timeout-ms to send each request, from its
// connection or the last answer, and 10 s to take each answer; then its
// connection closes. The reads make no recv that would find nothing
// (service::relay_stream).
//
// The listener follows service::accept_loop: an accept error (EMFILE, ...)
// is counted in http_accept_errors_total, logged once per burst, backed off,
// and accepting resumes.
//
// drain() is the graceful stop: the listener closes, readiness turns false,
// idle connections close, and every answer from then on says
// `Connection: close`. Requests in flight have until the deadline; then
// what still waits gets 503 (Redis commands at once, /api requests within
// 100 ms, as PostgreSQL calls give up), and the threads are joined.
//
// Records http_requests_total, http_request_errors_total and
// http_request_duration_seconds with the route template as `path`.
//
//   server srv(cfg, gw, checks, db);
//   srv.start();                      // throws when the port cannot be bound
//   srv.forget(inst);                 // inst was deleted: its connections close
//   srv.drain(cfg.shutdown_timeout);  // on SIGTERM
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include "config.hpp"
#include "database.hpp"
#include "gateway.hpp"
#include "health_checks.hpp"
#include "redis_instance.hpp"

namespace redis_gateway {

/// See the header comment.
class server {
 public:
  /// Keeps every argument by reference.
  server(const config& cfg, gateway& gw, health_checks& checks, database& db);
  /// Stops (without draining) if drain() did not.
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Binds, starts the threads and prints the bound address on stdout.
  void start();
  /// `inst` was deleted: each I/O thread closes its connection to it, failing
  /// the commands that wait for it. Thread-safe.
  void forget(const redis_instance& inst);
  /// Stops gracefully within `timeout` (see the header comment) and joins.
  void drain(std::chrono::milliseconds timeout);
  /// The API port (the chosen one when --listen asked for port 0).
  std::uint16_t port() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace redis_gateway
