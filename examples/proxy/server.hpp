// The proxy: accepts PostgreSQL clients, relays each to its own origin
// connection (authentication passes through), answers cacheable statements
// from the cache and records every statement's classification.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "config.hpp"

namespace proxy {

class result_cache;
class query_stats;
class change_feed;

class server {
 public:
  /// Binds the client port and starts the change feed; throws
  /// std::runtime_error (e.g. the port is taken, the conninfo is bad).
  explicit server(config c);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Serves until stop() has ended every session; call from one thread.
  void run();
  /// Stops accepting. Sessions between statements end at once, the others
  /// after their statement, each with PostgreSQL's FATAL 57P01; those still
  /// there after --shutdown-timeout-ms are cut off. Safe from any thread.
  void stop();

  std::uint16_t port() const noexcept;
  /// The change feed's replication slot (--slot, or a unique name).
  const std::string& slot() const noexcept;
  result_cache& cache() noexcept;
  query_stats& stats() noexcept;
  const change_feed& feed() const noexcept;

  /// The implementation, in server.cpp.
  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace proxy
