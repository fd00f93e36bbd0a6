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
#include <string>

#include "obs/detail/config.hpp"
#include "obs/http/negotiation.hpp"
#include "obs/http/options.hpp"
#include "obs/http/server.hpp"

OBS_NAMESPACE_BEGIN

class registry;  // obs/registry.hpp
class snapshot;  // obs/snapshot.hpp

namespace http {

/// A function that appends a snapshot's rendering to a string, as
/// obs::protobuf::render_to does. obs::http takes the protobuf renderer this
/// way, so it links protozero only where its user links obs::protobuf.
using snapshot_render_fn = void (*)(const snapshot&, std::string&);

/// A render callable that snapshots `reg` and renders it in the requested
/// format: text, OpenMetrics and JSON, and protobuf with `protobuf` when
/// given (a format the callable cannot render is a 500). `reg` must outlive
/// the callable.
///
///   obs::http::handler h(obs::http::registry_source(reg));
///
///   #include <obs/protobuf.hpp>                       // link obs::protobuf
///   obs::http::options o;
///   o.formats = o.formats.with(obs::http::format::protobuf);
///   obs::http::handler h(obs::http::registry_source(reg, obs::protobuf::render_to), o);
[[nodiscard("hand it to a handler or server; on its own it renders nothing")]]
render_fn registry_source(registry& reg, snapshot_render_fn protobuf = nullptr);

/// registry_source() on obs::global_registry().
[[nodiscard("hand it to a handler or server; on its own it renders nothing")]]
render_fn registry_source();

/// Starts a server on its own threads exporting `reg`, with its self-metrics
/// recorded into `reg`; given `protobuf` (obs::protobuf::render_to), it also
/// offers the protobuf format, which Prometheus needs for native histograms.
/// Throws boost::system::system_error (a std::runtime_error) if it cannot
/// bind.
///
///   obs::http::options o;
///   o.port = 9464;
///   auto srv = obs::http::serve(o, reg);
///   srv->health().add_check("database", [] { return obs::http::check_result::healthy(); });
///
///   auto srv = obs::http::serve(o, reg, obs::protobuf::render_to);  // link obs::protobuf
[[nodiscard("keep the returned server alive; it stops when destroyed")]]
std::unique_ptr<server> serve(options opts, registry& reg, snapshot_render_fn protobuf = nullptr);

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
