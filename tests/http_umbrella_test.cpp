#include "obs/http.hpp"

#include <catch2/catch.hpp>

#include "obs/http/handler.hpp"
#include "obs/registry.hpp"

// What obs/http.hpp leaves out, the registry and the handler's Beast types,
// comes from their own headers; tests/http/light_header.cpp checks that it
// does leave them out.
TEST_CASE("obs/http.hpp serves a registry") {
  obs::registry reg;
  reg.counter("hits_total").increment();
  obs::http::options o;
  o.port = 0;
  auto srv = obs::http::serve(o, reg);
  obs::http::request req{boost::beast::http::verb::get, "/metrics?format=json", 11};
  const obs::http::response res = srv->handler()(req);
  CHECK(res[boost::beast::http::field::content_type] == "application/json");
  CHECK(res.body().find("hits_total") != std::string::npos);
}
