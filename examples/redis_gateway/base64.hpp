// redis_gateway::base64_encode: bytes as base64 (RFC 4648 section 4, with
// padding), for replies a client asked to get byte-exact with
// `Upstash-Encoding: base64`: a JSON string holds Unicode, and a Redis value
// is bytes.
//
//   base64_encode(std::string("\xff\xfe", 2)) == "//4="
#pragma once

#include <string>
#include <string_view>

namespace redis_gateway {

/// The base64 form of `bytes`.
std::string base64_encode(std::string_view bytes);

}  // namespace redis_gateway
