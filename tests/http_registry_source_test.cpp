#include "obs/http/registry_source.hpp"

#include <catch2/catch.hpp>

#include <string>

#include "http/client.hpp"
#include "obs/http/handler.hpp"
#include "obs/http/self_metrics.hpp"
#include "obs/registry.hpp"

namespace bh = boost::beast::http;
using obs_test::connection;

namespace {

obs::http::options ephemeral() {
  obs::http::options o;
  o.port = 0;
  return o;
}

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("registry_source renders the registry in each format") {
  obs::registry reg;
  reg.counter("jobs_total", {{"queue", "mail"}}).increment(3);
  reg.describe_counter("jobs_total", "", "Jobs run.");
  const obs::http::render_fn render = obs::http::registry_source(reg);
  CHECK(contains(render(obs::http::format::prometheus_text), "jobs_total{queue=\"mail\"} 3\n"));
  const std::string om = render(obs::http::format::openmetrics);
  CHECK(contains(om, "# TYPE jobs counter\n"));
  CHECK(om.ends_with("# EOF\n"));
  CHECK(contains(render(obs::http::format::json), "jobs_total"));
}

TEST_CASE("serve exports a registry and its own metrics") {
  obs::registry reg;
  reg.gauge("queue_depth", {{"type", "ack"}}).set(7);
  auto srv = obs::http::serve(ephemeral(), reg);
  REQUIRE(srv->port() != 0);
  connection c(srv->port());
  CHECK(c.get("/metrics").body().find("queue_depth{type=\"ack\"} 7\n") != std::string::npos);
  CHECK(c.get("/missing").result() == bh::status::not_found);
  // The second scrape sees the first one and the 404 through obs itself.
  const std::string body = c.get("/metrics").body();
  CHECK(contains(body, "obs_http_requests_total{path=\"/metrics\",code=\"200\"} 1\n"));
  CHECK(contains(body, "obs_http_requests_total{path=\"other\",code=\"404\"} 1\n"));
  CHECK(contains(body, "obs_http_errors_total{cause=\"not_found\"} 1\n"));
  CHECK(contains(body, "obs_http_scrape_duration_seconds_count{format=\"prometheus\"} 1\n"));
  CHECK(contains(body, "# TYPE obs_http_response_bytes_total counter\n"));
}

TEST_CASE("a handler built by hand from the glue") {
  obs::registry reg;
  obs::http::handler h(obs::http::registry_source(reg), ephemeral(),
                       std::make_shared<obs::http::self_metrics>(reg));
  obs::http::request req{bh::verb::get, "/metrics", 11};
  CHECK(h(req).result() == bh::status::ok);
}
