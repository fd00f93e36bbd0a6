// detail::owning_handle: turns a non-owning handle (counter_ref, ...) into an
// owning one that keeps its series alive.
//
// Copying takes a reference (one atomic add), destroying drops it; recording
// through either kind costs the same. A default-constructed or moved-from
// handle points at the unbound series and records into nothing visible.
#pragma once

#include <utility>

#include "obs/detail/config.hpp"
#include "obs/detail/series_state.hpp"

OBS_NAMESPACE_BEGIN
namespace detail {

template <class Ref>
class owning_handle : public Ref {
 public:
  owning_handle() noexcept : Ref(unbound_series()) { retain(this->state_); }
  /// Takes a reference to the series `ref` points at.
  owning_handle(const Ref& ref) noexcept : Ref(ref) { retain(this->state_); }  // NOLINT: implicit by design
  owning_handle(const owning_handle& other) noexcept : Ref(other) { retain(this->state_); }
  owning_handle(owning_handle&& other) noexcept : Ref(other) { other.reset_unbound(); }
  owning_handle& operator=(owning_handle other) noexcept {
    std::swap(static_cast<Ref&>(*this), static_cast<Ref&>(other));
    return *this;
  }
  ~owning_handle() { release(this->state_); }

 private:
  void reset_unbound() noexcept {
    static_cast<Ref&>(*this) = Ref(unbound_series());
    retain(this->state_);
  }
};

}  // namespace detail
OBS_NAMESPACE_END
