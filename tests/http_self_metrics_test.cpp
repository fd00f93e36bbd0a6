#include "obs/http/self_metrics.hpp"

#include <catch2/catch.hpp>

#include <string>

namespace {

// The value of the series of `name` whose labels equal `labels`, or -1.
double value_of(const obs::snapshot& s, std::string_view name,
                std::initializer_list<obs::label_view> labels = {}) {
  const obs::family_snapshot* f = s.find(name);
  if (!f) return -1;
  for (const obs::series_snapshot& series : f->series) {
    if (series.labels.size() != labels.size()) continue;
    bool same = true;
    auto it = labels.begin();
    for (const obs::label_view& l : series.labels) {
      same = same && l.name == it->name && l.value == it->value;
      ++it;
    }
    if (same) return f->type == obs::metric_type::histogram ? static_cast<double>(series.count)
                                                            : series.value.as_double();
  }
  return -1;
}

}  // namespace

TEST_CASE("self metrics land in the given registry") {
  obs::registry reg;
  obs::http::self_metrics m(reg);
  m.on_response("/metrics", 200, 1000);
  m.on_response("/metrics", 200, 500);
  m.on_response("other", 404, 10);
  m.on_error(obs::http::error_cause::not_found);
  m.on_error(obs::http::error_cause::timeout);
  m.on_error(obs::http::error_cause::timeout);
  m.on_scrape(obs::http::format::openmetrics, 0.002);

  const obs::snapshot s = reg.snapshot();
  CHECK(value_of(s, "obs_http_requests_total", {{"path", "/metrics"}, {"code", "200"}}) == 2);
  CHECK(value_of(s, "obs_http_requests_total", {{"path", "other"}, {"code", "404"}}) == 1);
  CHECK(value_of(s, "obs_http_response_bytes_total") == 1510);
  CHECK(value_of(s, "obs_http_errors_total", {{"cause", "timeout"}}) == 2);
  CHECK(value_of(s, "obs_http_errors_total", {{"cause", "not_found"}}) == 1);
  CHECK(value_of(s, "obs_http_scrape_duration_seconds", {{"format", "openmetrics"}}) == 1);
  const obs::family_snapshot* d = s.find("obs_http_scrape_duration_seconds");
  REQUIRE(d);
  CHECK(d->type == obs::metric_type::histogram);
  CHECK(d->unit == "seconds");
  CHECK_FALSE(d->help.empty());
}

TEST_CASE("two endpoints on one registry share the series") {
  obs::registry reg;
  obs::http::self_metrics a(reg), b(reg);
  a.on_response("/metrics", 200, 1);
  b.on_response("/metrics", 200, 1);
  CHECK(value_of(reg.snapshot(), "obs_http_requests_total", {{"path", "/metrics"}, {"code", "200"}}) == 2);
}
