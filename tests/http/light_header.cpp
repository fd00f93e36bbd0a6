// What a service's main() holds to run the endpoint, with obs/http.hpp as
// obs::http's users get it (OBS_COMPILED_LIB): serve(), options,
// credentials, health checks and an observer, and neither Boost, zlib, fmt,
// the registry nor an exporter. check_light_header.cmake compiles it and
// lists the files the compiler opened for it; the macros and types below
// catch what that list would miss, e.g. a header copied into the tree.
#include "obs/http.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

#ifndef OBS_COMPILED_LIB
#error "compile with -DOBS_COMPILED_LIB, as linking obs::http does"
#endif
#ifdef BOOST_VERSION
static_assert(false, "obs/http.hpp includes Boost");
#endif
#ifdef BOOST_BEAST_VERSION
static_assert(false, "obs/http.hpp includes Boost.Beast");
#endif
#ifdef ZLIB_VERSION
static_assert(false, "obs/http.hpp includes zlib");
#endif
#ifdef FMT_VERSION
static_assert(false, "obs/http.hpp includes fmt");
#endif

namespace {

template <class T, class = void>
constexpr bool is_complete = false;
template <class T>
constexpr bool is_complete<T, std::void_t<decltype(sizeof(T))>> = true;

// Declared for serve(reg), defined only by obs/registry.hpp.
static_assert(!is_complete<obs::registry>, "obs/http.hpp includes obs/registry.hpp");
// Declared for server::handler(), defined only by the Beast side.
static_assert(!is_complete<obs::http::handler>, "obs/http.hpp includes obs/http/handler.hpp");

class counting_observer final : public obs::http::observer {
 public:
  void on_response(std::string_view, unsigned, std::size_t) override { ++responses_; }
  void on_error(obs::http::error_cause) override {}
  void on_scrape(obs::http::format, double) override {}

 private:
  std::size_t responses_ = 0;
};

}  // namespace

std::unique_ptr<obs::http::server> start_metrics(std::uint16_t port, std::string_view token) {
  obs::http::options o;
  o.port = port;
  o.auth = obs::http::auth::bearer(token);
  auto srv = obs::http::serve(o);
  srv->health().add_check("database", [] { return obs::http::check_result::healthy("ok"); });
  srv->health().add_check("cache", [] { return obs::http::check_result::degraded("cold"); },
                          obs::http::criticality::optional);
  srv->health().set_ready(true);
  return srv;
}

std::unique_ptr<obs::http::server> start_status(const obs::http::options& o) {
  auto srv = std::make_unique<obs::http::server>(
      [](obs::http::format f) { return std::string(obs::http::content_type(f)) + "\n"; }, o,
      std::make_shared<counting_observer>());
  srv->start();
  return srv;
}
