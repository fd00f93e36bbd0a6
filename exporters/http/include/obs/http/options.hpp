// obs::http::options: everything that configures the management-port endpoint.
//
// Use it to change where the endpoint listens, what it serves and how hard it
// defends itself. The defaults are safe for a management port: loopback only,
// small limits, short timeouts, no authentication.
//
//   obs::http::options o;
//   o.port = 0;                                 // ephemeral; read server::port()
//   o.auth = obs::http::auth::bearer("s3cret");
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "obs/detail/config.hpp"
#include "obs/http/auth.hpp"
#include "obs/http/negotiation.hpp"

OBS_NAMESPACE_BEGIN
namespace http {

/// Configuration of a handler and of the server that runs it.
struct options {
  /// Address to bind. Loopback by default: a management port is never public
  /// unless someone asks for it (e.g. "0.0.0.0" or "::").
  std::string address = "127.0.0.1";
  /// TCP port; 0 picks an ephemeral one, readable from server::port(). The
  /// default is in the exporter range and is OpenTelemetry's Prometheus
  /// exporter's, so it does not clash with a Prometheus server's own 9090.
  std::uint16_t port = 9464;
  /// Where the metrics are served. `<path>?format=json` and `Accept:
  /// application/json` select JSON there.
  std::string metrics_path = "/metrics";
  /// The formats offered at `metrics_path`, by content negotiation and
  /// `?format=`; the render callable must render each. Add format::protobuf
  /// when it renders obs::protobuf too: registry_source(reg,
  /// obs::protobuf::render_to) does, and serve(opts, reg,
  /// obs::protobuf::render_to) adds it here itself.
  format_set formats = text_formats;
  /// Health probe paths: overall status, liveness and readiness.
  std::string health_path = "/health";
  std::string live_path = "/health/live";
  std::string ready_path = "/health/ready";

  /// I/O threads the server runs when it owns its io_context. They parse and
  /// write, and answer the health probes themselves.
  unsigned threads = 1;
  /// Threads the server runs metrics renders and application routes on, so
  /// that a slow scrape never holds up a probe on an I/O thread. The server
  /// has them whether it owns its io_context or not.
  unsigned render_threads = 1;
  /// Open connections beyond this get a 503 and are closed.
  std::size_t max_connections = 128;
  /// Scrapes admitted at once, rendering or waiting for a render thread;
  /// beyond this they get a 503 with Retry-After.
  std::size_t max_inflight_scrapes = 4;

  /// Time allowed to receive a request's headers (and body) once its first
  /// byte arrived, and for a new connection to send that first byte. Bounds
  /// slowloris clients that trickle header bytes.
  std::chrono::milliseconds header_timeout{5000};
  /// Time an open connection may sit without starting a request.
  std::chrono::milliseconds idle_timeout{30000};
  /// Time allowed to write a response to a client that reads slowly.
  std::chrono::milliseconds write_timeout{10000};

  /// Largest request header block accepted; larger gets 431.
  std::uint32_t max_header_bytes = 8 * 1024;
  /// Largest request body accepted; larger gets 413. Probes and scrapes carry
  /// no body, so the default is small.
  std::uint64_t max_body_bytes = 4 * 1024;

  /// Compress with gzip when the client's Accept-Encoding allows it.
  bool gzip = true;
  /// zlib level, 1 (fastest) to 9 (smallest). Metric text compresses about
  /// tenfold even at level 1, which keeps scrape latency low.
  int gzip_level = 1;

  /// Credentials every request must present; none by default.
  http::auth auth;
  /// Whether the health probes are also behind `auth`. Off by default because
  /// orchestrators probe without credentials.
  bool auth_health = false;
};

}  // namespace http
OBS_NAMESPACE_END
