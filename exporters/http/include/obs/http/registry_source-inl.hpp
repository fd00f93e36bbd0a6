// Definitions of obs/http/registry_source.hpp: a registry's snapshot rendered
// by the three exporters, and a server recording its self-metrics into it.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "obs/detail/config.hpp"
#include "obs/http/handler.hpp"
#include "obs/http/registry_source.hpp"
#include "obs/http/self_metrics.hpp"
#include "obs/http/server.hpp"
#include "obs/json.hpp"
#include "obs/openmetrics.hpp"
#include "obs/prometheus.hpp"
#include "obs/registry.hpp"

OBS_NAMESPACE_BEGIN
namespace http {

OBS_INLINE render_fn registry_source(registry& reg, snapshot_render_fn protobuf) {
  return [&reg, protobuf](format f) {
    // Checked before the snapshot: the handler answers 500 for it.
    if (f == format::protobuf && protobuf == nullptr)
      throw std::logic_error("obs::http::registry_source: no protobuf renderer was given");
    const snapshot snap = reg.snapshot();
    std::string body;
    switch (f) {
      case format::openmetrics: openmetrics::render_to(snap, body); break;
      case format::json: json::render_to(snap, body); break;
      case format::protobuf: protobuf(snap, body); break;
      case format::prometheus_text: prometheus::render_to(snap, body); break;
    }
    return body;
  };
}

OBS_INLINE render_fn registry_source() { return registry_source(global_registry()); }

OBS_INLINE std::unique_ptr<server> serve(options opts, registry& reg, snapshot_render_fn protobuf) {
  if (protobuf != nullptr) opts.formats = opts.formats.with(format::protobuf);
  auto srv = std::make_unique<server>(registry_source(reg, protobuf), std::move(opts),
                                      std::make_shared<self_metrics>(reg));
  srv->start();
  return srv;
}

OBS_INLINE std::unique_ptr<server> serve(options opts) { return serve(std::move(opts), global_registry()); }

}  // namespace http
OBS_NAMESPACE_END
