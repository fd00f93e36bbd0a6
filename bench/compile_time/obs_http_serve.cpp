// Compile-time case: include the HTTP endpoint and start it on the global
// registry, the file a service's main() would hold. Target: <= 1.0 s over
// empty.cpp; rival beast_server.cpp.
#include <obs/http.hpp>

std::unique_ptr<obs::http::server> start_metrics() { return obs::http::serve(); }
