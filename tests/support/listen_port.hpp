// A loopback port for a server a test starts, stops and starts again.
//
// A port the kernel hands out for bind(0) lies in its ephemeral range, where
// every outgoing connection on the machine takes its local port: while the
// server is down, any connection (another test's, or the service's own
// reconnects) may take it, and the restart fails with "Address already in
// use". A port below that range is never taken that way.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <random>
#include <stdexcept>

namespace obs_test {

namespace detail {

inline int first_ephemeral_port() {
  int low = 32768;  // Linux's default
  if (std::FILE* f = std::fopen("/proc/sys/net/ipv4/ip_local_port_range", "r")) {
    if (std::fscanf(f, "%d", &low) != 1) low = 32768;
    std::fclose(f);
  }
  return low;
}

// Whether nothing on the machine holds the port (a bind without
// SO_REUSEADDR also fails on connections in TIME_WAIT).
inline bool port_is_free(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return bound;
}

}  // namespace detail

// A free port below the ephemeral range, chosen at random so that tests
// running side by side rarely try the same one.
inline int free_port() {
  const int end = detail::first_ephemeral_port();
  const int begin = end - 16384 > 1024 ? end - 16384 : 1024;
  if (end - begin < 1024) throw std::runtime_error("the ephemeral port range leaves no room below it");
  std::mt19937 pick{std::random_device{}()};
  std::uniform_int_distribution<int> port(begin, end - 1);
  for (int tries = 0; tries < 1000; ++tries)
    if (const int p = port(pick); detail::port_is_free(p)) return p;
  throw std::runtime_error("no free port below the ephemeral range");
}

}  // namespace obs_test
