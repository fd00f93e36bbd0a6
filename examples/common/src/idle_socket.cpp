#include "service/idle_socket.hpp"

#include <poll.h>

#include <cerrno>

namespace service {

bool idle_socket_alive(int fd) noexcept {
  if (fd < 0) return false;
  pollfd p{fd, POLLIN, 0};
  int ready;
  do {
    ready = poll(&p, 1, 0);
  } while (ready < 0 && errno == EINTR);
  return ready == 0;
}

}  // namespace service
