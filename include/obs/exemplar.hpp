// obs::exemplar: the labels that tie one recorded value to where it came
// from, such as the request's trace id, for OpenMetrics and protobuf scrapes
// (https://prometheus.io/docs/specs/om/open_metrics_spec/#exemplars).
//
//   latency.record(0.042, {{"trace_id", trace_id}});
//   requests.increment(1, {{"trace_id", trace_id}});
//
// A counter keeps its latest exemplar; a histogram its latest per bucket
// (per power of two, or the last eight, for one with native buckets only).
// Label names follow the metric label rules, and names and values together
// hold at most 128 code points; an exemplar that breaks either is not kept,
// and counted in `obs_rejected_exemplars_total{metric="..."}`. The value is
// recorded either way. An exemplar is copied when recorded: its strings need
// to live only as long as the call.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <string_view>

#include "obs/detail/config.hpp"

OBS_NAMESPACE_BEGIN

/// One label of an exemplar, e.g. `{"trace_id", id}`.
struct exemplar_label {
  std::string_view name;
  std::string_view value;
};

/// Up to `max_labels` exemplar labels, held by value (their strings are the
/// caller's); more make the exemplar invalid.
class exemplar {
 public:
  static constexpr std::size_t max_labels = 4;

  exemplar(std::initializer_list<exemplar_label> labels) noexcept  // NOLINT: implicit by design
      : size_(labels.size()) {
    std::size_t i = 0;
    for (const exemplar_label& l : labels) {
      if (i == max_labels) break;
      labels_[i++] = l;
    }
  }

  const exemplar_label* begin() const noexcept { return labels_; }
  const exemplar_label* end() const noexcept { return labels_ + (size_ < max_labels ? size_ : max_labels); }
  /// Labels given, which may exceed max_labels (then the exemplar is refused).
  std::size_t size() const noexcept { return size_; }

 private:
  exemplar_label labels_[max_labels];
  std::size_t size_;
};

OBS_NAMESPACE_END
