// gateway::message_store: the gateway's tables and the SQL it runs on them —
// store a message, page through a room's history, record a batch of ACKs.
//
// Every call blocks on the pool (pg_pool), so the gateway makes them from its
// worker threads. Thread safety: as pg_pool.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pg_pool.hpp"

namespace gateway {

/// A stored message.
struct message {
  std::int64_t id = 0;
  std::string room;
  std::string user;
  std::string body;
  std::optional<std::string> attachment;  ///< object key, when one is attached
  std::string created_at;                 ///< RFC 3339, from the database
};

/// One recipient's acknowledgement of one message.
struct ack {
  std::int64_t message_id = 0;
  std::string user;
};

/// See the header comment.
class message_store {
 public:
  message_store(pg_pool& pool, std::chrono::milliseconds acquire_timeout)
      : pool_(pool), acquire_timeout_(acquire_timeout) {}

  /// Creates the tables if they do not exist.
  void migrate();

  /// Stores a message and returns it with its id and time.
  message insert(const std::string& room, const std::string& user, const std::string& body,
                 const std::optional<std::string>& attachment);

  /// Up to `limit` messages of `room` older than `before` (all when unset),
  /// newest first.
  std::vector<message> history(const std::string& room, std::optional<std::int64_t> before, int limit);

  /// Records `acks` in one statement; an ACK already recorded, or for a
  /// message that does not exist, is skipped. Returns how many were new.
  std::size_t record_acks(const std::vector<ack>& acks);

  /// A round trip to the database (readiness).
  void ping();

 private:
  pg_pool& pool_;
  std::chrono::milliseconds acquire_timeout_;
};

}  // namespace gateway
