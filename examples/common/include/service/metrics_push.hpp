// service::start_push: obs's global registry pushed to a Prometheus
// remote_write receiver every push_config::interval and once more at exit,
// on a thread of its own (obs::remote_write), as job `job` and instance
// `instance`, the labels a scrape would give it.
//
//   std::unique_ptr<obs::remote_write::pusher> push = service::start_push(cfg.push, "proxy", "127.0.0.1:6432");
#pragma once

#include <memory>
#include <string>

#include <obs/remote_write.hpp>

#include "service/push_config.hpp"

namespace service {

/// The pusher, or none when `c` names no receiver; keep it alive as long as
/// the metrics should go out. Throws obs::error for a url it cannot use.
std::unique_ptr<obs::remote_write::pusher> start_push(const push_config& c, std::string job, std::string instance);

}  // namespace service
