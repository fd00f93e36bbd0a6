// obs/http.hpp: the management-port HTTP endpoint in one include — server,
// handler, negotiation, gzip, health probes, auth and the registry glue.
//
// Use it in the file that starts the endpoint; instrumented code never needs
// it. Link the `obs::http` CMake target (Boost.Beast, zlib).
//
//   #include <obs/http.hpp>
//   auto srv = obs::http::serve();   // GET http://127.0.0.1:9464/metrics
#pragma once

#include "obs/http/auth.hpp"
#include "obs/http/gzip.hpp"
#include "obs/http/handler.hpp"
#include "obs/http/health.hpp"
#include "obs/http/negotiation.hpp"
#include "obs/http/observer.hpp"
#include "obs/http/options.hpp"
#include "obs/http/registry_source.hpp"
#include "obs/http/self_metrics.hpp"
#include "obs/http/server.hpp"
