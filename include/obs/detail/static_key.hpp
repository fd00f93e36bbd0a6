// detail::static_key and detail::family_key: the compile-time name and labels
// of a macro call site, validated while compiling.
//
// make_static_key is consteval: a runtime value passed as a label is not a
// constant expression and fails to compile, and so do an invalid metric or
// label name, a label reserved for the metric's type, a label key given twice
// and an odd number of label arguments. The compiler's message names one of
// the `OBS_error_*` functions below. The rules are those of names.hpp, which
// run-time registration applies too.
#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <string_view>

#include "obs/detail/config.hpp"
#include "obs/label.hpp"
#include "obs/names.hpp"

OBS_NAMESPACE_BEGIN
namespace detail {

// Deliberately not constexpr: calling one during constant evaluation is the
// compile error, and its name is the message.
inline void OBS_error_invalid_metric_name() {}
inline void OBS_error_invalid_label_name() {}
inline void OBS_error_reserved_label_name() {}
inline void OBS_error_duplicate_label_name() {}

/// Whether a macro site registers a histogram, whose reserved labels differ.
enum class site_kind { plain, histogram };

template <std::size_t N>
struct static_key {
  std::string_view name;
  std::array<label_view, N> labels;
  constexpr std::span<const label_view> label_span() const noexcept { return labels; }
};

template <std::size_t N>
struct family_key {
  std::string_view name;
  std::array<std::string_view, N> keys;
  constexpr std::span<const std::string_view> key_span() const noexcept { return keys; }
};

consteval void check_metric_name(std::string_view name) {
  if (!is_valid_metric_name(name)) OBS_error_invalid_metric_name();
}

consteval void check_label_names(site_kind kind, std::span<const std::string_view> keys) {
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (!is_valid_label_name(keys[i])) OBS_error_invalid_label_name();
    if (kind == site_kind::histogram && is_reserved_histogram_label(keys[i])) OBS_error_reserved_label_name();
    for (std::size_t j = 0; j < i; ++j)
      if (keys[j] == keys[i]) OBS_error_duplicate_label_name();
  }
}

/// A literal name and literal key/value pairs: ("name", "k1", "v1", ...).
template <site_kind Kind, class... Args>
consteval auto make_static_key(std::string_view name, const Args&... args) {
  static_assert(sizeof...(Args) % 2 == 0, "labels come in key, value pairs");
  check_metric_name(name);
  std::array<std::string_view, sizeof...(Args)> flat{std::string_view(args)...};
  static_key<sizeof...(Args) / 2> key{name, {}};
  std::array<std::string_view, sizeof...(Args) / 2> keys{};
  for (std::size_t i = 0; i < flat.size() / 2; ++i) {
    keys[i] = flat[2 * i];
    key.labels[i] = {flat[2 * i], flat[2 * i + 1]};
  }
  check_label_names(Kind, keys);
  return key;
}

/// A literal name and literal label keys: ("name", "k1", "k2", ...).
template <site_kind Kind, class... Keys>
consteval auto make_family_key(std::string_view name, const Keys&... keys) {
  check_metric_name(name);
  family_key<sizeof...(Keys)> key{name, {std::string_view(keys)...}};
  check_label_names(Kind, key.keys);
  return key;
}

}  // namespace detail
OBS_NAMESPACE_END
