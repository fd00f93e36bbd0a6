// detail::register_series and detail::register_family: what the OBS_* macro
// sites call, once each, to bind to the global registry. Declared here and
// defined with the registry's core, so an instrumented file compiles only
// this call, not the registry.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "obs/detail/config.hpp"
#include "obs/detail/core_ref.hpp"
#include "obs/detail/series_cells.hpp"
#include "obs/label.hpp"
#include "obs/metric_type.hpp"

OBS_NAMESPACE_BEGIN
namespace detail {

struct family_state;

/// The series `name{labels}` of kind `kind` on the global registry, valid at
/// least until this thread's next lookup (take a handle to keep it). Never
/// throws: a refused registration (say, the name is registered with another
/// type elsewhere, or memory ran out) is counted in
/// `obs_registration_errors_total` and reported once on stderr, and the
/// unbound series is returned, which records into nothing visible.
OBS_INLINE series_cells* register_series(value_kind kind, std::string_view name,
                                         std::span<const label_view> labels) noexcept;

/// A family and the core that keeps it.
struct family_registration {
  family_state* family;
  std::uint64_t id;
  core_ref core;
};

/// The family `name` with label keys `keys` of kind `kind` on the global
/// registry. Never throws: a refused one, reported as register_series does,
/// is a family of a core of its own that no snapshot reads.
OBS_INLINE family_registration register_family(value_kind kind, std::string_view name,
                                               std::span<const std::string_view> keys) noexcept;

/// HELP text and unit for `name` on the global registry; see
/// registry::describe_counter. Throws obs::error on an invalid name or unit.
OBS_INLINE void describe_global(metric_type type, std::string_view name, std::string_view unit,
                                std::string_view help);

}  // namespace detail
OBS_NAMESPACE_END
