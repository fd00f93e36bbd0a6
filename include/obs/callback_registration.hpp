// obs::callback_registration: what registering a callback metric or a
// collector returns; the callback stays registered as long as it lives.
//
//   obs::callback_registration idle = reg.gauge_callback("pool_idle", {}, [&] { return pool.idle(); });
#pragma once

#include <functional>
#include <utility>

#include "obs/detail/config.hpp"

OBS_NAMESPACE_BEGIN

class registry;

/// Keeps a callback metric or a collector registered; unregisters it when
/// destroyed or reset. Once reset() returns, the callback is never called
/// again, so it may capture objects that die right after. Move-only.
///
/// Do not destroy a registration from inside its own callback: that waits for
/// the callback to finish.
class [[nodiscard("keep the registration alive: it unregisters when destroyed")]] callback_registration {
 public:
  callback_registration() noexcept = default;
  callback_registration(callback_registration&& other) noexcept
      : unregister_(std::exchange(other.unregister_, nullptr)) {}
  callback_registration& operator=(callback_registration&& other) noexcept {
    if (this != &other) {
      reset();
      unregister_ = std::exchange(other.unregister_, nullptr);
    }
    return *this;
  }
  callback_registration(const callback_registration&) = delete;
  callback_registration& operator=(const callback_registration&) = delete;
  ~callback_registration() { reset(); }

  /// Unregisters now.
  void reset() noexcept {
    if (unregister_) std::exchange(unregister_, nullptr)();
  }

 private:
  friend class registry;
  explicit callback_registration(std::function<void()> unregister) noexcept
      : unregister_(std::move(unregister)) {}
  std::function<void()> unregister_;
};

OBS_NAMESPACE_END
