// The trace id of a W3C Trace Context `traceparent` header
// (https://www.w3.org/TR/trace-context/#traceparent-header), which the HTTP
// services attach as the exemplar of a request's duration, so that a slow
// bucket in a dashboard links to the trace of a request that landed in it.
#pragma once

#include <algorithm>
#include <array>
#include <optional>
#include <string_view>

namespace trace_context {

/// The 32-hex-digit trace id of `header`, or nothing if the header is not a
/// valid traceparent: version 00 exactly `00-<trace id>-<parent id>-<flags>`,
/// a later version at least that followed by `-` and more; lowercase hex;
/// neither id all zeros; never version ff. The view points into `header`.
std::optional<std::string_view> trace_id(std::string_view header) noexcept;

/// A request's trace id, copied out of its `traceparent` header, so that it
/// outlives the headers (which a WebSocket upgrade moves, for one).
class request_trace {
 public:
  explicit request_trace(std::string_view traceparent) noexcept {
    if (const std::optional<std::string_view> id = trace_id(traceparent)) {
      std::copy(id->begin(), id->end(), id_.begin());
      valid_ = true;
    }
  }

  /// The trace id, if the request carried a valid traceparent.
  std::optional<std::string_view> id() const noexcept {
    if (!valid_) return std::nullopt;
    return std::string_view(id_.data(), id_.size());
  }

 private:
  std::array<char, 32> id_{};
  bool valid_ = false;
};

}  // namespace trace_context
