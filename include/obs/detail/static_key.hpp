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
};

template <std::size_t N>
struct family_key {
  std::string_view name;
  std::array<std::string_view, N> keys;
};

consteval void check_metric_name(std::string_view name) {
  if (!is_valid_metric_name(name)) OBS_error_invalid_metric_name();
}

/// Checks the label keys `keys[0]`, `keys[stride]`, ... (`n` of them).
consteval void check_label_names(site_kind kind, const std::string_view* keys, std::size_t n, std::size_t stride) {
  for (std::size_t i = 0; i < n; ++i) {
    const std::string_view key = keys[i * stride];
    if (!is_valid_label_name(key)) OBS_error_invalid_label_name();
    if (kind == site_kind::histogram && is_reserved_histogram_label(key)) OBS_error_reserved_label_name();
    for (std::size_t j = 0; j < i; ++j)
      if (keys[j * stride] == key) OBS_error_duplicate_label_name();
  }
}

// The macros pass their arguments as one braced list of string_views, so
// every site with the same number of labels shares one instantiation,
// whatever the lengths of its literals.

/// A literal name and literal key/value pairs: {"name", "k1", "v1", ...}.
template <site_kind Kind, std::size_t N>
consteval auto make_static_key(const std::string_view (&args)[N]) {
  static_assert(N % 2 == 1, "labels come in key, value pairs");
  check_metric_name(args[0]);
  check_label_names(Kind, args + 1, N / 2, 2);
  static_key<N / 2> key{args[0], {}};
  for (std::size_t i = 0; i < N / 2; ++i) key.labels[i] = {args[1 + 2 * i], args[2 + 2 * i]};
  return key;
}

/// A literal name and literal label keys: {"name", "k1", "k2", ...}.
template <site_kind Kind, std::size_t N>
consteval auto make_family_key(const std::string_view (&args)[N]) {
  check_metric_name(args[0]);
  check_label_names(Kind, args + 1, N - 1, 1);
  family_key<N - 1> key{args[0], {}};
  for (std::size_t i = 1; i < N; ++i) key.keys[i - 1] = args[i];
  return key;
}

}  // namespace detail
OBS_NAMESPACE_END
