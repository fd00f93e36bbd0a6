// The server of http_accept_errors_test, in a process of its own so that only
// it runs out of descriptors: serves an isolated registry on an ephemeral
// loopback port, lowers RLIMIT_NOFILE so that 8 more descriptors can be
// opened, prints "port <n>" on stdout, and runs until SIGTERM or SIGINT.
#include <fcntl.h>
#include <sys/resource.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "obs/http.hpp"
#include "obs/registry.hpp"

int main() {
  // Block the stop signals before any thread starts, so every thread inherits
  // the mask and sigwait below is the only receiver.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  obs::registry reg;
  obs::http::options o;
  o.port = 0;
  auto srv = obs::http::serve(o, reg);

  // After start(), so the server's own descriptors (listener, epoll, timers)
  // are already open: only its connections compete for the 8 numbers left.
  // The limit caps descriptor numbers, not counts, and a parent may leave
  // high ones open, so it is set where exactly 8 numbers below it are free.
  std::vector<int> fds;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd"))
    fds.push_back(std::stoi(entry.path().filename().string()));
  std::sort(fds.begin(), fds.end());
  rlim_t limit = 8;
  for (int fd : fds)
    // The iterator's own descriptor is listed too, and closed by now.
    if (static_cast<rlim_t>(fd) < limit && fcntl(fd, F_GETFD) != -1) ++limit;
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = limit;
  if (setrlimit(RLIMIT_NOFILE, &lim) != 0) {
    std::perror("setrlimit");
    return 1;
  }

  std::printf("port %u\n", static_cast<unsigned>(srv->port()));
  std::fflush(stdout);

  int sig = 0;
  sigwait(&stop, &sig);
  srv->stop();
  return 0;
}
