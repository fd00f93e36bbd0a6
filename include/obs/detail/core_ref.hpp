// detail::core_ref: a counted reference to a registry's core, the storage
// behind its families and series. The registry holds one, and so does every
// family handle, callback registration, snapshot and series, so any of them
// may outlive the registry object safely.
//
// Declared here without the core's definition, so a family handle costs an
// instrumented file nothing to include; registry_core.hpp defines the core.
#pragma once

#include <utility>

#include "obs/detail/config.hpp"

OBS_NAMESPACE_BEGIN
namespace detail {

class registry_core;

OBS_INLINE void retain_core(registry_core* core) noexcept;
/// Destroys the core with its last reference.
OBS_INLINE void release_core(registry_core* core) noexcept;

class core_ref {
 public:
  core_ref() noexcept = default;
  /// Shares `core` (a reference is taken).
  explicit core_ref(registry_core* core) noexcept : core_(core) {
    if (core_) retain_core(core_);
  }
  /// Takes over the reference a new core starts with.
  static core_ref adopt(registry_core* core) noexcept {
    core_ref r;
    r.core_ = core;
    return r;
  }
  core_ref(const core_ref& other) noexcept : core_ref(other.core_) {}
  core_ref(core_ref&& other) noexcept : core_(std::exchange(other.core_, nullptr)) {}
  core_ref& operator=(core_ref other) noexcept {
    std::swap(core_, other.core_);
    return *this;
  }
  ~core_ref() {
    if (core_) release_core(core_);
  }

  registry_core* get() const noexcept { return core_; }
  registry_core* operator->() const noexcept { return core_; }
  registry_core& operator*() const noexcept { return *core_; }

 private:
  registry_core* core_ = nullptr;
};

}  // namespace detail
OBS_NAMESPACE_END
