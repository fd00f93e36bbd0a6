// gateway::server: the public side of the gateway — the HTTP API and the
// WebSocket rooms on one port, with the database, the attachment store and
// the queues behind them.
//
// One I/O thread runs every connection, and the PostgreSQL and S3 calls too
// (libpq's non-blocking API): a request that needs the database waits for a
// pooled connection, measured and bounded, and holds no thread meanwhile.
// Every connection has a bounded outbound queue and the server one bounded
// ACK queue, written to the database in batches: a full queue drops (and
// counts) instead of growing.
//
// This header names no Boost type (the server lives behind a pointer), so
// main.cpp does not compile Asio.
//
// Thread safety: start() and stop() from one thread; the readiness accessors
// from any.
#pragma once

#include <cstdint>
#include <memory>

#include "config.hpp"

namespace gateway {

/// See the header comment.
class server {
 public:
  explicit server(config c);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Creates the tables and the bucket if missing, binds the public port and
  /// starts serving. Throws (db_error, s3_error, std::system_error) with a
  /// message saying what could not be reached or bound.
  void start();

  /// Stops accepting and closes idle connections (WebSocket clients with
  /// 1001, going away); requests in progress and the ACKs still queued get
  /// config::shutdown_timeout, then what still waits is answered 503 and
  /// closed. Returns when everything has ended. Idempotent.
  void stop();

  /// The bound public port (the chosen one when the configured port was 0).
  std::uint16_t port() const noexcept;

  /// Whether the last periodic check of the database / the object store
  /// (every second, each given a second) succeeded. Reads a flag: never waits.
  bool database_ready() const noexcept;
  bool object_store_ready() const noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace gateway
