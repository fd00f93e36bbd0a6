// Where a service listens or connects: "host:port" from a flag or a config
// key, parsed by one set of rules for every service.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace service {

struct endpoint {
  std::string host;
  std::uint16_t port = 0;
  bool operator==(const endpoint&) const = default;
};

/// Parses "host:port", "[ipv6]:port" or ":port" (which means 127.0.0.1: a
/// management port is private unless asked otherwise). The port is 0 to
/// 65535, 0 picking a free one. Throws std::invalid_argument whose message
/// names `what` (the flag or key) and quotes `text`.
endpoint parse_endpoint(std::string_view what, std::string_view text);

/// "host:port", with brackets around an IPv6 address: what parse_endpoint reads.
std::string to_string(const endpoint& e);

}  // namespace service
