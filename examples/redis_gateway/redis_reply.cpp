#include "redis_reply.hpp"

#include <hiredis/hiredis.h>

#include <string>

#include "metrics.hpp"

namespace redis_gateway {
namespace {

// Redis strings are bytes; JSON strings are Unicode. Invalid UTF-8 is kept as
// is here and replaced by U+FFFD when the reply is serialised.
nlohmann::json to_json(const redisReply& r) {
  switch (r.type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
      return std::string(r.str, r.len);
    case REDIS_REPLY_INTEGER:
      return r.integer;
    case REDIS_REPLY_ARRAY: {
      auto a = nlohmann::json::array();
      for (std::size_t i = 0; i < r.elements; ++i) a.push_back(to_json(*r.element[i]));
      return a;
    }
    default:  // REDIS_REPLY_NIL
      return nullptr;
  }
}

}  // namespace

redis_result from_reply(const redisReply& reply) {
  if (reply.type == REDIS_REPLY_ERROR) return {redis_result::outcome::redis_error, nullptr, std::string(reply.str, reply.len)};
  return {redis_result::outcome::ok, to_json(reply), {}};
}

void record_command(std::string_view command, const redis_result& r, std::chrono::steady_clock::duration took) {
  OBS_COUNTER_FAMILY("redis_commands_total", "command").with(command).increment();
  if (r.result != redis_result::outcome::ok)
    OBS_COUNTER_FAMILY("redis_command_errors_total", "command").with(command).increment();
  OBS_HISTOGRAM_FAMILY("redis_command_duration_seconds", "command").with(command).record(took);
}

}  // namespace redis_gateway
