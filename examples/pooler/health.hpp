// Whether the PostgreSQL servers behind the pooler answer: the check behind
// /health and /health/ready. Every database's server is asked in parallel,
// each within the same time limit, on the thread that serves the probe, so a
// hung server costs a probe that limit and never more. A startup packet
// answered with an authentication request means the server takes logins; a
// refused connection, no answer in time or an ErrorResponse (starting up,
// shutting down, too many clients) means it does not. Nothing logs in.
#pragma once

#include <obs/http/health.hpp>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace pooler {

class upstream_check {
 public:
  /// One database's server, and the user and database to name at login.
  struct target {
    std::string database;
    std::string host;
    std::uint16_t port = 0;
    std::string user;
    std::string dbname;
  };

  /// Replaces what is checked (at start and RELOAD); any thread.
  void set(std::vector<target> targets, std::chrono::milliseconds timeout);

  /// Probes every target; healthy if all answer. Returns within the time
  /// limit (plus a host name's resolution, which is not bounded here).
  /// Any thread.
  obs::http::check_result run() const;

 private:
  mutable std::mutex mutex_;
  std::vector<target> targets_;
  std::chrono::milliseconds timeout_{500};
};

}  // namespace pooler
