#include "service/endpoint.hpp"

#include <charconv>
#include <stdexcept>

namespace service {

endpoint parse_endpoint(std::string_view what, std::string_view text) {
  auto fail = [&](std::string_view why) {
    return std::invalid_argument(std::string(what) + ": " + std::string(why) + ", got \"" + std::string(text) + "\"");
  };
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) throw fail("expected HOST:PORT");
  std::string_view host = text.substr(0, colon), port = text.substr(colon + 1);
  if (host.starts_with('[')) {
    if (!host.ends_with(']') || host.size() < 3) throw fail("expected [IPV6]:PORT");
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    throw fail("an IPv6 address needs brackets, as in [::1]:PORT");
  }
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || value > 65535)
    throw fail("expected a port from 0 to 65535");
  return {host.empty() ? "127.0.0.1" : std::string(host), static_cast<std::uint16_t>(value)};
}

std::string to_string(const endpoint& e) {
  const std::string host = e.host.find(':') != std::string::npos ? "[" + e.host + "]" : e.host;
  return host + ":" + std::to_string(e.port);
}

}  // namespace service
