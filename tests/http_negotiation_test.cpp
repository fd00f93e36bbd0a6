#include "obs/http/negotiation.hpp"

#include <catch2/catch.hpp>

#include "obs/json.hpp"
#include "obs/openmetrics.hpp"
#include "obs/prometheus.hpp"

// obs::http offers protobuf without depending on it: linking obs::http alone
// (as this test does) brings no obs::protobuf header.
#if __has_include(<obs/protobuf.hpp>)
static_assert(false, "obs::http exposes obs::protobuf's include tree");
#endif

using obs::http::accepts_gzip;
using obs::http::format;
using obs::http::negotiate;

TEST_CASE("content types match the exporters' own") {
  CHECK(obs::http::content_type(format::prometheus_text) == obs::prometheus::content_type);
  CHECK(obs::http::content_type(format::openmetrics) == obs::openmetrics::content_type);
  CHECK(obs::http::content_type(format::json) == obs::json::content_type);
}

TEST_CASE("no or unknown Accept gets the text format") {
  CHECK(negotiate("") == format::prometheus_text);
  CHECK(negotiate("*/*") == format::prometheus_text);
  CHECK(negotiate("image/png") == format::prometheus_text);
  CHECK(negotiate("text/html,application/xhtml+xml") == format::prometheus_text);
}

TEST_CASE("Prometheus 2.x Accept headers get OpenMetrics") {
  // What Prometheus 2.42 sends by default.
  CHECK(negotiate("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
                  "text/plain;version=0.0.4;q=0.5,*/*;q=0.1") == format::openmetrics);
  CHECK(negotiate("application/openmetrics-text") == format::openmetrics);
  CHECK(negotiate("Application/OpenMetrics-Text; Version=\"1.0.0\"") == format::openmetrics);
}

TEST_CASE("q-values decide") {
  CHECK(negotiate("application/openmetrics-text;q=0.4, text/plain;q=0.5") == format::prometheus_text);
  CHECK(negotiate("text/plain;q=0.5, application/openmetrics-text;q=0.6") == format::openmetrics);
  CHECK(negotiate("text/plain;version=0.0.4;q=0.9, application/json") == format::json);
  // Equal weights: the more specific range, then the first listed.
  CHECK(negotiate("*/*, application/openmetrics-text") == format::openmetrics);
  CHECK(negotiate("application/openmetrics-text, text/plain") == format::openmetrics);
  CHECK(negotiate("text/plain, application/openmetrics-text") == format::prometheus_text);
}

TEST_CASE("versions we do not produce are skipped") {
  CHECK(negotiate("application/openmetrics-text;version=0.0.1") == format::prometheus_text);
  CHECK(negotiate("text/plain;version=0.0.5;q=1, application/openmetrics-text;q=0.1") == format::openmetrics);
}

TEST_CASE("q=0 refuses a format") {
  CHECK(negotiate("text/plain;q=0, */*") == format::openmetrics);
  CHECK(negotiate("application/openmetrics-text;q=0, */*;q=0.1") == format::prometheus_text);
  CHECK_FALSE(negotiate("text/plain;q=0").has_value());
  CHECK_FALSE(negotiate("*/*;q=0").has_value());
  CHECK_FALSE(negotiate("text/plain;q=0, application/openmetrics-text;q=0").has_value());
}

TEST_CASE("malformed weights are ignored, not guessed") {
  CHECK(negotiate("application/openmetrics-text;q=abc, text/plain") == format::prometheus_text);
  CHECK(negotiate("application/openmetrics-text;q=2") == format::prometheus_text);
  CHECK(negotiate(",,;;,") == format::prometheus_text);
}

TEST_CASE("format names for ?format=") {
  CHECK(obs::http::format_from_name("json") == format::json);
  CHECK(obs::http::format_from_name("openmetrics") == format::openmetrics);
  CHECK(obs::http::format_from_name("prometheus") == format::prometheus_text);
  CHECK(obs::http::format_from_name("text") == format::prometheus_text);
  CHECK_FALSE(obs::http::format_from_name("xml").has_value());
  CHECK(obs::http::format_from_name(obs::http::to_string(format::openmetrics)) == format::openmetrics);
}

TEST_CASE("Accept-Encoding gzip rules") {
  CHECK(accepts_gzip("gzip"));
  CHECK(accepts_gzip("deflate, gzip;q=0.5"));
  CHECK(accepts_gzip("x-gzip"));
  CHECK(accepts_gzip("*"));
  CHECK(accepts_gzip("GZIP"));
  CHECK_FALSE(accepts_gzip(""));
  CHECK_FALSE(accepts_gzip("identity"));
  CHECK_FALSE(accepts_gzip("gzip;q=0"));
  CHECK_FALSE(accepts_gzip("gzip;q=0, *"));
  CHECK_FALSE(accepts_gzip("*;q=0"));
  CHECK_FALSE(accepts_gzip("br, deflate"));
}

TEST_CASE("application/* admits OpenMetrics, then JSON") {
  CHECK(negotiate("application/*") == format::openmetrics);
  CHECK(negotiate("application/*;q=0.5, text/plain;q=0.4") == format::openmetrics);
  CHECK(negotiate("application/openmetrics-text;q=0, application/*") == format::json);
  CHECK(negotiate("application/*, application/json") == format::json);  // equal q: the specific range
  CHECK(negotiate("text/*") == format::prometheus_text);
  CHECK(negotiate("image/*") == format::prometheus_text);  // names nothing we serve
}

TEST_CASE("a wildcard admits every format not refused by a more specific range") {
  CHECK(negotiate("application/openmetrics-text;q=0, text/plain;q=0, */*;q=0.5") == format::json);
  CHECK(negotiate("text/*;q=0, */*") == format::openmetrics);
  CHECK(negotiate("application/*;q=0, */*") == format::prometheus_text);
  CHECK_FALSE(negotiate("application/*;q=0, text/*;q=0, */*").has_value());
  CHECK_FALSE(negotiate("application/openmetrics-text;q=0, application/json;q=0, text/*;q=0, */*").has_value());
  // The most specific range sets a format's weight, whatever a wildcard says.
  CHECK(negotiate("*/*;q=0.5, text/plain;q=0.1") == format::openmetrics);
}

namespace {
// What Prometheus 2.42 sends with --enable-feature=native-histograms
// (scrape/scrape.go, scrapeAcceptHeaderWithProtobuf).
constexpr std::string_view prometheus_protobuf_accept =
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,"
    "application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
constexpr obs::http::format_set with_protobuf = obs::http::text_formats.with(format::protobuf);
}  // namespace

TEST_CASE("protobuf is offered only when asked: Prometheus's protobuf Accept then gets it") {
  CHECK(negotiate(prometheus_protobuf_accept, with_protobuf) == format::protobuf);
  // Not offered (the default): the same header gets OpenMetrics, its second choice.
  CHECK(negotiate(prometheus_protobuf_accept) == format::openmetrics);
  // The older form clients (and Prometheus 1.x) send.
  CHECK(negotiate("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;"
                  "q=0.7,text/plain;version=0.0.4;q=0.3,*/*;q=0.1",
                  with_protobuf) == format::protobuf);
  CHECK(negotiate("application/vnd.google.protobuf", with_protobuf) == format::protobuf);
}

TEST_CASE("protobuf's proto and encoding parameters must be ours") {
  CHECK(negotiate("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text,"
                  "text/plain;q=0.5",
                  with_protobuf) == format::prometheus_text);
  CHECK(negotiate("application/vnd.google.protobuf;proto=io.prometheus.client.Other;encoding=delimited",
                  with_protobuf) == format::prometheus_text);
  CHECK(negotiate("application/vnd.google.protobuf;proto=\"io.prometheus.client.MetricFamily\";"
                  "encoding=\"delimited\"",
                  with_protobuf) == format::protobuf);
}

TEST_CASE("protobuf loses ties, and wildcards alone never pick it") {
  CHECK(negotiate("*/*", with_protobuf) == format::prometheus_text);
  CHECK(negotiate("application/*", with_protobuf) == format::openmetrics);
  CHECK(negotiate("text/plain;q=0, application/openmetrics-text;q=0, application/json;q=0, */*", with_protobuf) ==
        format::protobuf);
  CHECK_FALSE(negotiate("text/plain;q=0, application/*;q=0", with_protobuf).has_value());
}

TEST_CASE("an endpoint without the text formats falls back to what it offers") {
  const obs::http::format_set only_protobuf{format::protobuf};
  CHECK(negotiate("image/png", only_protobuf) == format::protobuf);
  CHECK(negotiate("text/plain", only_protobuf) == format::protobuf);  // covers none of ours: fallback
  CHECK_FALSE(negotiate("*/*;q=0", only_protobuf).has_value());
}

TEST_CASE("format sets") {
  CHECK(obs::http::text_formats.contains(format::prometheus_text));
  CHECK(obs::http::text_formats.contains(format::json));
  CHECK_FALSE(obs::http::text_formats.contains(format::protobuf));
  CHECK(with_protobuf.contains(format::protobuf));
  CHECK(with_protobuf.without(format::protobuf) == obs::http::text_formats);
  CHECK(obs::http::format_from_name("protobuf") == format::protobuf);
  CHECK(obs::http::to_string(format::protobuf) == "protobuf");
}
