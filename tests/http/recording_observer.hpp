// An obs::http::observer that keeps every event, for tests to inspect.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "obs/http/observer.hpp"

namespace obs_test {

class recording_observer final : public obs::http::observer {
 public:
  struct response_event {
    std::string route;
    unsigned status;
    std::size_t bytes;
  };

  void on_response(std::string_view route, unsigned status, std::size_t bytes) override {
    std::lock_guard lock(mutex_);
    responses_.push_back({std::string(route), status, bytes});
  }
  void on_error(obs::http::error_cause cause) override {
    {
      std::lock_guard lock(mutex_);
      errors_.push_back(cause);
    }
    changed_.notify_all();
  }
  void on_scrape(obs::http::format f, double seconds) override {
    std::lock_guard lock(mutex_);
    scrapes_.emplace_back(f, seconds);
  }

  std::size_t errors(obs::http::error_cause cause) const {
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (auto c : errors_) n += c == cause;
    return n;
  }
  /// Waits until `cause` was seen `n` times, for events that the server
  /// records after the client can already observe their effect (a timeout
  /// closes the socket before its handler runs). False after 10 s.
  bool wait_for_errors(obs::http::error_cause cause, std::size_t n) const {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(10), [&] {
      std::size_t seen = 0;
      for (auto c : errors_) seen += c == cause;
      return seen >= n;
    });
  }

  std::vector<response_event> responses() const {
    std::lock_guard lock(mutex_);
    return responses_;
  }
  std::size_t scrapes() const {
    std::lock_guard lock(mutex_);
    return scrapes_.size();
  }

 private:
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::vector<response_event> responses_;
  std::vector<obs::http::error_cause> errors_;
  std::vector<std::pair<obs::http::format, double>> scrapes_;
};

}  // namespace obs_test
