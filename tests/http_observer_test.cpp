#include "obs/http/observer.hpp"

#include <catch2/catch.hpp>

#include <set>
#include <string_view>

TEST_CASE("every error cause has its own label value") {
  using obs::http::error_cause;
  const error_cause all[] = {error_cause::bad_request,      error_cause::unauthorized,
                             error_cause::not_found,        error_cause::method_not_allowed,
                             error_cause::not_acceptable,   error_cause::body_too_large,
                             error_cause::header_too_large, error_cause::handler_failed,
                             error_cause::connection_limit, error_cause::scrape_limit,
                             error_cause::timeout,          error_cause::accept_failed};
  std::set<std::string_view> names;
  for (error_cause c : all) {
    const std::string_view name = obs::http::to_string(c);
    CHECK(name != "unknown");
    // Label values are Prometheus-friendly snake_case.
    CHECK(name.find_first_not_of("abcdefghijklmnopqrstuvwxyz_") == std::string_view::npos);
    names.insert(name);
  }
  CHECK(names.size() == std::size(all));
}
