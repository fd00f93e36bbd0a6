#include "service/metrics_push.hpp"

#include <utility>

#include <obs/registry.hpp>

namespace service {

std::unique_ptr<obs::remote_write::pusher> start_push(const push_config& c, std::string job, std::string instance) {
  if (!c.url) return nullptr;
  obs::remote_write::options o;
  o.url = *c.url;
  o.interval = c.interval;
  o.native_histograms = c.native_histograms;
  o.external_labels = {{"job", std::move(job)}, {"instance", std::move(instance)}};
  return std::make_unique<obs::remote_write::pusher>(obs::global_registry(), std::move(o));
}

}  // namespace service
