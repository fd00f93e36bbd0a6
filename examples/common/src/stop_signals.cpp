#include "service/stop_signals.hpp"

#include <pthread.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>

namespace service {

stop_signals::stop_signals() {
  sigemptyset(&set_);
  sigaddset(&set_, SIGINT);
  sigaddset(&set_, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set_, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

int stop_signals::wait() {
  int signal = 0;
  while (sigwait(&set_, &signal) != 0) {
  }
  return signal;
}

shutdown_deadline::shutdown_deadline(std::chrono::milliseconds limit, std::string service_name) {
  watchdog_ = std::thread([this, limit, name = std::move(service_name)] {
    std::unique_lock lock(mutex_);
    if (done_.wait_for(lock, limit, [this] { return finished_; })) return;
    std::fprintf(stderr, "%s: still stopping after %lld ms; exiting\n", name.c_str(),
                 static_cast<long long>(limit.count()));
    std::_Exit(70);
  });
}

shutdown_deadline::~shutdown_deadline() {
  {
    std::lock_guard lock(mutex_);
    finished_ = true;
  }
  done_.notify_all();
  watchdog_.join();
}

}  // namespace service
