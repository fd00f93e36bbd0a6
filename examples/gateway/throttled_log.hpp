// gateway::throttled_log: a stderr log for events that come in bursts (an
// upstream that went away fails every request that needs it; a full queue
// drops everything offered to it): an event is written at once unless a
// line was written less than a second ago; those held back are counted,
// and the count is written with the next line, or when the log ends.
//
// Thread safety: none; one per kind of event, used on the gateway's I/O thread.
#pragma once

#include <chrono>
#include <cstdio>
#include <string_view>

namespace gateway {

/// See the header comment.
class throttled_log {
 public:
  /// Lines start with "gateway: `subject`: "; the count of those held back
  /// reads "N more `events` since the line before".
  explicit throttled_log(const char* subject, const char* events = "failures") noexcept
      : subject_(subject), events_(events) {}
  throttled_log(const throttled_log&) = delete;
  throttled_log& operator=(const throttled_log&) = delete;
  ~throttled_log() { write_held_back(); }

  /// Logs `detail`, or counts it if a line was written less than a second ago.
  void operator()(std::string_view detail) {
    const auto now = std::chrono::steady_clock::now();
    if (written_ && now - last_ < std::chrono::seconds(1)) {
      ++held_back_;
      return;
    }
    write_held_back();
    std::fprintf(stderr, "gateway: %s: %.*s\n", subject_, static_cast<int>(detail.size()), detail.data());
    written_ = true;
    last_ = now;
  }

 private:
  void write_held_back() noexcept {
    if (held_back_ > 0)
      std::fprintf(stderr, "gateway: %s: %lu more %s since the line before\n", subject_, held_back_, events_);
    held_back_ = 0;
  }

  const char* subject_;
  const char* events_;
  bool written_ = false;
  std::chrono::steady_clock::time_point last_;
  unsigned long held_back_ = 0;
};

}  // namespace gateway
