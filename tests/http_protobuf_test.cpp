// obs::http serving obs::protobuf: negotiation with the Accept header a
// Prometheus server sends, ?format=protobuf, gzip, and what an endpoint that
// was not given the protobuf renderer answers.
#include "obs/http/registry_source.hpp"

#include <catch2/catch.hpp>

#include <string>

#include "http/client.hpp"
#include "obs/http/handler.hpp"
#include "obs/http/negotiation.hpp"
#include "obs/protobuf.hpp"
#include "obs/registry.hpp"

namespace bh = boost::beast::http;
using obs_test::connection;

namespace {

// Prometheus 2.42 with --enable-feature=native-histograms (scrape/scrape.go).
constexpr std::string_view prometheus_protobuf_accept =
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,"
    "application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

obs::http::options ephemeral() {
  obs::http::options o;
  o.port = 0;
  return o;
}

obs::http::request get(std::string_view target, std::string_view accept = {}, std::string_view encoding = {}) {
  obs::http::request req{bh::verb::get, target, 11};
  if (!accept.empty()) req.set(bh::field::accept, accept);
  if (!encoding.empty()) req.set(bh::field::accept_encoding, encoding);
  return req;
}

}  // namespace

TEST_CASE("http: protobuf content type is obs::protobuf's") {
  CHECK(obs::http::content_type(obs::http::format::protobuf) == obs::protobuf::content_type);
}

TEST_CASE("http: serve with obs::protobuf::render_to answers Prometheus in protobuf, gzipped") {
  obs::registry reg;
  reg.counter("jobs_total", {{"queue", "mail"}}).increment(3);
  auto srv = obs::http::serve(ephemeral(), reg, obs::protobuf::render_to);
  connection c(srv->port());
  const auto res = c.get("/metrics", {{"Accept", prometheus_protobuf_accept}});
  REQUIRE(res.result() == bh::status::ok);
  CHECK(res[bh::field::content_type] == obs::protobuf::content_type);
  CHECK(res[bh::field::vary] == "Accept, Accept-Encoding");
  // Binary MetricFamily messages: the first one's length, then field 1 (name).
  const std::string& body = res.body();
  REQUIRE(body.size() > 2);
  CHECK(body.find("jobs_total") != std::string::npos);
  CHECK(body.find("# TYPE") == std::string::npos);

  const auto packed = c.get("/metrics", {{"Accept", prometheus_protobuf_accept}, {"Accept-Encoding", "gzip"}});
  REQUIRE(packed.result() == bh::status::ok);
  CHECK(packed[bh::field::content_encoding] == "gzip");
  CHECK(packed[bh::field::content_type] == obs::protobuf::content_type);
  const std::string unpacked = obs_test::gunzip(packed.body());
  CHECK(unpacked.find("jobs_total") != std::string::npos);

  // ?format=protobuf, and the text formats as before.
  const auto named = c.get("/metrics?format=protobuf");
  CHECK(named[bh::field::content_type] == obs::protobuf::content_type);
  CHECK(c.get("/metrics")[bh::field::content_type] == obs::http::content_type(obs::http::format::prometheus_text));
  // The self-metrics label the scrape by format.
  const std::string text = c.get("/metrics").body();
  CHECK(text.find("obs_http_scrape_duration_seconds_count{format=\"protobuf\"} 3") != std::string::npos);
}

TEST_CASE("http: the protobuf body equals obs::protobuf::render of the registry") {
  obs::registry reg;
  reg.gauge("queue_depth").set(7);
  obs::http::options o;
  o.formats = o.formats.with(obs::http::format::protobuf);
  obs::http::handler h(obs::http::registry_source(reg, obs::protobuf::render_to), o);
  const obs::http::request req = get("/metrics", prometheus_protobuf_accept);
  const obs::http::response res = h(req);
  REQUIRE(res.result() == bh::status::ok);
  const obs::snapshot snap = reg.snapshot();
  CHECK(res.body() == obs::protobuf::render(snap));
}

TEST_CASE("http: without protobuf offered, Prometheus gets OpenMetrics and ?format=protobuf is a 400") {
  obs::registry reg;
  reg.gauge("queue_depth").set(7);
  obs::http::handler h(obs::http::registry_source(reg));
  const obs::http::request req = get("/metrics", prometheus_protobuf_accept);
  CHECK(h(req)[bh::field::content_type] == obs::http::content_type(obs::http::format::openmetrics));
  const obs::http::request named = get("/metrics?format=protobuf");
  const obs::http::response res = h(named);
  CHECK(res.result() == bh::status::bad_request);
  CHECK(res.body() == "Bad Request: format must be one of prometheus openmetrics json\n");
}

TEST_CASE("http: offering protobuf with a source that cannot render it is a 500, not a crash") {
  obs::registry reg;
  obs::http::options o;
  o.formats = o.formats.with(obs::http::format::protobuf);
  obs::http::handler h(obs::http::registry_source(reg), o);
  const obs::http::request req = get("/metrics?format=protobuf");
  CHECK(h(req).result() == bh::status::internal_server_error);
}

TEST_CASE("http: 406 lists the formats offered") {
  obs::registry reg;
  obs::http::options o;
  o.formats = o.formats.with(obs::http::format::protobuf);
  obs::http::handler h(obs::http::registry_source(reg, obs::protobuf::render_to), o);
  const obs::http::request req = get("/metrics", "*/*;q=0");
  const obs::http::response res = h(req);
  CHECK(res.result() == bh::status::not_acceptable);
  CHECK(res.body().find(obs::protobuf::content_type) != std::string::npos);
  CHECK(res.body().find("application/json") != std::string::npos);
}
