// detail::series_handle: the reference-counted link from an owning handle
// (obs::counter, obs::gauge, ...) to its series.
//
// Copying takes a reference (one atomic add), destroying drops it, so the
// series' cells can never be recycled under a handle. A default-constructed
// or moved-from handle points at the unbound series and records into
// nothing visible.
#pragma once

#include <utility>

#include "obs/detail/config.hpp"
#include "obs/detail/series_cells.hpp"

OBS_NAMESPACE_BEGIN
namespace detail {

class series_handle {
 protected:
  series_handle() noexcept : series_handle(unbound_series()) {}
  explicit series_handle(series_cells* state) noexcept : state_(state), cells_(state->cells) { retain(state_); }
  series_handle(const series_handle& other) noexcept : series_handle(other.state_) {}
  series_handle(series_handle&& other) noexcept : state_(other.state_), cells_(other.cells_) {
    other.state_ = unbound_series();
    other.cells_ = other.state_->cells;
    retain(other.state_);
  }
  series_handle& operator=(const series_handle& other) noexcept {
    retain(other.state_);
    release(state_);
    state_ = other.state_;
    cells_ = other.cells_;
    return *this;
  }
  series_handle& operator=(series_handle&& other) noexcept {
    std::swap(state_, other.state_);
    std::swap(cells_, other.cells_);
    return *this;
  }
  ~series_handle() { release(state_); }

  series_cells* state_;
  series_cells::cell* cells_;  ///< `state_->cells`, one load less per record
};

}  // namespace detail
OBS_NAMESPACE_END
