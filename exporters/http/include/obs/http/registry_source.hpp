// obs::http::registry_source and obs::http::serve: the glue between an
// obs::registry and the HTTP endpoint, which otherwise never sees a registry.
//
// Use serve() for the usual case, a management port on the global registry:
//
//   auto srv = obs::http::serve();            // 127.0.0.1:9464, /metrics, /health...
//
// or registry_source() to hand a registry's renderer to a handler or server
// you configure yourself.
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "obs/detail/config.hpp"
#include "obs/http/handler.hpp"
#include "obs/http/self_metrics.hpp"
#include "obs/http/server.hpp"
#include "obs/json.hpp"
#include "obs/openmetrics.hpp"
#include "obs/prometheus.hpp"
#include "obs/registry.hpp"

OBS_NAMESPACE_BEGIN
namespace http {

/// A render callable that snapshots `reg` and renders it in the requested
/// format. `reg` must outlive the callable.
///
///   obs::http::handler h(obs::http::registry_source(reg));
[[nodiscard("hand it to a handler or server; on its own it renders nothing")]]
inline render_fn registry_source(registry& reg = global_registry()) {
  return [&reg](format f) {
    const snapshot snap = reg.snapshot();
    std::string body;
    switch (f) {
      case format::openmetrics: openmetrics::render_to(snap, body); break;
      case format::json: json::render_to(snap, body); break;
      case format::prometheus_text: prometheus::render_to(snap, body); break;
    }
    return body;
  };
}

/// Starts a server on its own threads exporting `reg`, with its self-metrics
/// recorded into `reg`. Throws boost::system::system_error if it cannot bind.
///
///   obs::http::options o;
///   o.port = 9464;
///   auto srv = obs::http::serve(o);
///   srv->health().add_check("database", [] { return obs::http::check_result::healthy(); });
[[nodiscard("keep the returned server alive; it stops when destroyed")]]
inline std::unique_ptr<server> serve(options opts = {}, registry& reg = global_registry()) {
  auto srv = std::make_unique<server>(registry_source(reg), std::move(opts), std::make_shared<self_metrics>(reg));
  srv->start();
  return srv;
}

}  // namespace http
OBS_NAMESPACE_END
