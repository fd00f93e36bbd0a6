#include "redis_reply.hpp"

#include <hiredis/hiredis.h>

#include <string_view>

#include "base64.hpp"

namespace redis_gateway {
namespace {

// Redis strings are bytes; JSON strings are Unicode. As text, invalid UTF-8
// is kept here and replaced by U+FFFD when the reply is serialised.
nlohmann::json to_json(const redisReply& r, reply_encoding encoding) {
  switch (r.type) {
    case REDIS_REPLY_STATUS:
      if (std::string_view(r.str, r.len) == "OK") return "OK";
      [[fallthrough]];
    case REDIS_REPLY_STRING:
      if (encoding == reply_encoding::base64) return base64_encode({r.str, r.len});
      return std::string(r.str, r.len);
    case REDIS_REPLY_INTEGER:
      return r.integer;
    case REDIS_REPLY_ARRAY: {
      auto a = nlohmann::json::array();
      for (std::size_t i = 0; i < r.elements; ++i) a.push_back(to_json(*r.element[i], encoding));
      return a;
    }
    default:  // REDIS_REPLY_NIL
      return nullptr;
  }
}

}  // namespace

redis_result from_reply(const redisReply& reply, reply_encoding encoding) {
  if (reply.type == REDIS_REPLY_ERROR) return {redis_result::outcome::redis_error, nullptr, std::string(reply.str, reply.len)};
  return {redis_result::outcome::ok, to_json(reply, encoding), {}};
}

}  // namespace redis_gateway
