// redis_gateway::redis_reply: a Redis command's outcome as the gateway
// answers it: hiredis's reply converted to JSON (as text, or byte-exact in
// base64 when the client asked with `Upstash-Encoding: base64`).
//
//   redis_result r = from_reply(*reply, reply_encoding::base64);
#pragma once

#include <string>

#include <nlohmann/json.hpp>

struct redisReply;

namespace redis_gateway {

/// A command's outcome.
struct redis_result {
  enum class outcome { ok, redis_error, unavailable };
  outcome result = outcome::ok;
  nlohmann::json value;  ///< the reply as JSON when ok: string, integer, null, array
  /// Redis's message for redis_error (the client's to see); for unavailable,
  /// why, which names internal addresses and so only reaches the log.
  std::string error;
};

/// How a reply's strings become JSON strings.
enum class reply_encoding {
  /// As text: bytes that are not UTF-8 come out as U+FFFD.
  text,
  /// Upstash's `Upstash-Encoding: base64`: every string in base64, except
  /// the status reply OK, which Upstash (and its client, @upstash/redis)
  /// leaves as "OK". Integers and nulls are unchanged.
  base64,
};

/// The reply as a result: a Redis error is redis_error, anything else ok
/// with its value as JSON (string, integer, null, array).
redis_result from_reply(const redisReply& reply, reply_encoding encoding);

}  // namespace redis_gateway
