// An obs::http::observer that keeps every event, for tests to inspect.
#pragma once

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
    std::lock_guard lock(mutex_);
    errors_.push_back(cause);
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
  std::vector<response_event> responses_;
  std::vector<obs::http::error_cause> errors_;
  std::vector<std::pair<obs::http::format, double>> scrapes_;
};

}  // namespace obs_test
