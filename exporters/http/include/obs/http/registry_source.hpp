// obs::http::registry_source and obs::http::serve: the glue between an
// obs::registry and the HTTP endpoint, which otherwise never sees a registry.
//
// Use serve() for the usual case, a management port on the global registry:
//
//   auto srv = obs::http::serve();            // 127.0.0.1:9464, /metrics, /health...
//
// or registry_source() to hand a registry's renderer to a handler or server
// you configure yourself. This header only declares them, with the registry
// as an incomplete type; the snapshot, the three exporters and
// obs::http::self_metrics come in with registry_source-inl.hpp.
#pragma once

#include <memory>

#include "obs/detail/config.hpp"
#include "obs/http/negotiation.hpp"
#include "obs/http/options.hpp"
#include "obs/http/server.hpp"

OBS_NAMESPACE_BEGIN

class registry;  // obs/registry.hpp

namespace http {

/// A render callable that snapshots `reg` and renders it in the requested
/// format. `reg` must outlive the callable.
///
///   obs::http::handler h(obs::http::registry_source(reg));
[[nodiscard("hand it to a handler or server; on its own it renders nothing")]]
render_fn registry_source(registry& reg);

/// registry_source() on obs::global_registry().
[[nodiscard("hand it to a handler or server; on its own it renders nothing")]]
render_fn registry_source();

/// Starts a server on its own threads exporting `reg`, with its self-metrics
/// recorded into `reg`. Throws boost::system::system_error (a
/// std::runtime_error) if it cannot bind.
///
///   obs::http::options o;
///   o.port = 9464;
///   auto srv = obs::http::serve(o, reg);
///   srv->health().add_check("database", [] { return obs::http::check_result::healthy(); });
[[nodiscard("keep the returned server alive; it stops when destroyed")]]
std::unique_ptr<server> serve(options opts, registry& reg);

/// serve() on obs::global_registry().
///
///   auto srv = obs::http::serve();   // GET http://127.0.0.1:9464/metrics
[[nodiscard("keep the returned server alive; it stops when destroyed")]]
std::unique_ptr<server> serve(options opts = {});

}  // namespace http
OBS_NAMESPACE_END

#if OBS_HEADER_ONLY
#include "obs/http/registry_source-inl.hpp"
#endif
