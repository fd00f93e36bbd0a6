// service::push_config: where, and how often, a service pushes its metrics
// to a Prometheus remote_write receiver as well as being scraped. Each
// service fills it from its flags or its configuration file, and its main
// hands it to service::start_push (service/metrics_push.hpp).
//
// Push or scrape into one Prometheus, not both: each series would be stored
// twice, under two instances, and every sum over them would count it twice.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace service {

struct push_config {
  std::optional<std::string> url;              ///< e.g. http://prometheus:9090/api/v1/write; none: no push
  std::chrono::milliseconds interval{15'000};  ///< between pushes
  /// Native histograms too; only for a receiver that takes them (Prometheus
  /// with --enable-feature=native-histograms), as any other refuses the
  /// whole request.
  bool native_histograms = false;
};

}  // namespace service
