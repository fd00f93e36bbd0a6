// gateway::message_store: the gateway's tables and the SQL it runs on them —
// store a message, page through a room's history, record a batch of ACKs.
//
// A message body is stored byte for byte (a bytea column): a client may send
// any string JSON can carry, NUL included, which a PostgreSQL text column
// cannot hold.
//
// Every call waits for the pool (pg_pool) and for the database without
// holding a thread. Thread safety: as pg_pool.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <optional>
#include <string>
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
  explicit message_store(pg_pool& pool) : pool_(pool) {}

  /// Creates the tables if they do not exist, and turns the body column of
  /// an earlier gateway's table (text) into bytea.
  boost::asio::awaitable<void> migrate();

  /// Stores a message and returns it with its id and time.
  boost::asio::awaitable<message> insert(std::string room, std::string user, std::string body,
                                         std::optional<std::string> attachment);

  /// Up to `limit` messages of `room` older than `before` (all when unset),
  /// newest first.
  boost::asio::awaitable<std::vector<message>> history(std::string room, std::optional<std::int64_t> before,
                                                       int limit);

  /// Records `acks` in one statement; an ACK already recorded, or for a
  /// message that does not exist, is skipped. Returns how many were new.
  boost::asio::awaitable<std::size_t> record_acks(std::vector<ack> acks);

 private:
  pg_pool& pool_;
};

}  // namespace gateway
