// http_routes::route_template: one route of an HTTP API, written as a
// template ("/rooms/{room}/messages"), matched against request paths with the
// values of its `{placeholders}` percent-decoded. The example services label
// their metrics with the template, never the raw path, so keys and ids never
// reach a label, and every path that matches no template is `unmatched`: a
// scanner cannot create series.
//
//   const http_routes::route_template t("/rooms/{room}/messages");
//   http_routes::route_params params;
//   t.match(http_routes::split_path("/rooms/a%20b/messages"), params);  // matched, params == {"a b"}
//
// Immutable after construction: thread-safe.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <boost/container/small_vector.hpp>

namespace http_routes {

/// The metric label of a request that matches no template.
inline constexpr std::string_view unmatched = "unmatched";

/// The path of a request target: everything before its query string.
std::string_view path_of(std::string_view target) noexcept;

/// A path's segments. Held inline up to 8 and a matched route's values up to
/// 4, so that matching a request's path costs no allocation.
using path_segments = boost::container::small_vector<std::string_view, 8>;
using route_params = boost::container::small_vector<std::string, 4>;

/// The segments of a path ("/a/b" gives {"a", "b"}; "/a/" gives {"a", ""}).
/// A path that does not start with '/' has none, so it matches no template.
path_segments split_path(std::string_view path);

/// Decodes RFC 3986 percent-encoding (`+` stays `+`); nullopt when a `%` is
/// not followed by two hex digits.
std::optional<std::string> percent_decode(std::string_view s);

/// See the header comment.
class route_template {
 public:
  /// What match() found.
  enum class outcome {
    matched,     ///< every segment fits; the decoded values are in `params`
    no_match,    ///< some segment does not fit
    bad_escape,  ///< the segments fit, but a placeholder's value is malformed percent-encoding
  };

  /// `pattern` ("/a/{x}/b") must outlive the template; each `{name}` segment
  /// matches one non-empty path segment, every other segment itself only.
  explicit route_template(std::string_view pattern);

  /// The pattern, as given: what a `path` or `route` label carries.
  std::string_view pattern() const noexcept { return pattern_; }

  /// Matches a path's segments (split_path()), literal segments byte for
  /// byte. `params` is overwritten with the placeholders' decoded values, in
  /// order, when matched, and cleared otherwise.
  outcome match(std::span<const std::string_view> segments, route_params& params) const;

 private:
  std::string_view pattern_;
  path_segments segments_;
};

}  // namespace http_routes
