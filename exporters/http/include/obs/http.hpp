// obs/http.hpp: the management-port HTTP endpoint for the file that starts it
// — serve(), the server, its options and credentials, health probes, the
// observer of its events, the formats it negotiates and its gzip.
//
// Use it in the file that starts the endpoint; instrumented code never needs
// it. Link the `obs::http` CMake target, which compiled the definitions once:
// then this header includes no Boost, zlib, fmt, registry or exporter header.
// With `obs::http_header_only` (Boost.Beast, zlib) each header below brings
// its definitions (`-inl.hpp`) and with them the whole endpoint. Mounting the handler in
// your own Beast server, or adding routes to a server, takes
// obs/http/handler.hpp; recording the endpoint's events into a registry of
// your own, obs/http/self_metrics.hpp.
//
//   #include <obs/http.hpp>
//   auto srv = obs::http::serve();   // GET http://127.0.0.1:9464/metrics
#pragma once

#include "obs/http/auth.hpp"
#include "obs/http/gzip.hpp"
#include "obs/http/health.hpp"
#include "obs/http/negotiation.hpp"
#include "obs/http/observer.hpp"
#include "obs/http/options.hpp"
#include "obs/http/registry_source.hpp"
#include "obs/http/server.hpp"
