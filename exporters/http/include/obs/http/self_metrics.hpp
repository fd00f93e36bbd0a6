// obs::http::self_metrics: the endpoint's own metrics, recorded through obs
// into a registry: requests by path and code, response bytes, errors by cause
// and scrape duration by format.
//
// Use it as the server's observer so the endpoint shows up in its own scrape
// (obs::http::serve does this for you):
//
//   auto events = std::make_shared<obs::http::self_metrics>(reg);
//   obs::http::server srv(obs::http::registry_source(reg), opts, events);
//
// It exposes
//   obs_http_requests_total{path,code}        responses sent
//   obs_http_response_bytes_total             body bytes sent (after gzip)
//   obs_http_errors_total{cause}              failures, see obs::http::error_cause
//   obs_http_scrape_duration_seconds{format}  render + compression time
#pragma once

#include <string>
#include <string_view>

#include "obs/detail/config.hpp"
#include "obs/http/observer.hpp"
#include "obs/registry.hpp"

OBS_NAMESPACE_BEGIN
namespace http {

/// An observer that records into obs metrics. Thread-safe, like the handles.
class self_metrics final : public observer {
 public:
  /// Creates (or finds) the metrics in `reg`, which must outlive this object.
  explicit self_metrics(registry& reg = global_registry())
      : requests_(reg.counter_family("obs_http_requests_total", {"path", "code"})),
        bytes_(reg.counter("obs_http_response_bytes_total")),
        errors_(reg.counter_family("obs_http_errors_total", {"cause"})),
        scrapes_(reg.histogram_family("obs_http_scrape_duration_seconds", {"format"})) {
    reg.describe_counter("obs_http_requests_total", "", "HTTP responses sent by the metrics endpoint.");
    reg.describe_counter("obs_http_response_bytes_total", "bytes",
                         "Response body bytes sent by the metrics endpoint, after compression.");
    reg.describe_counter("obs_http_errors_total", "", "Requests the metrics endpoint failed or refused, and connections it could not accept, by cause.");
    reg.describe_histogram("obs_http_scrape_duration_seconds", "seconds",
                           "Time to render (and compress) a metrics body.");
  }

  void on_response(std::string_view route, unsigned status, std::size_t body_bytes) override {
    requests_.with(route, std::to_string(status)).increment();
    bytes_.increment(body_bytes);
  }

  void on_error(error_cause cause) override { errors_.with(to_string(cause)).increment(); }

  void on_scrape(format f, double seconds) override { scrapes_.with(to_string(f)).record(seconds); }

 private:
  counter_family requests_;
  counter bytes_;
  counter_family errors_;
  histogram_family scrapes_;
};

}  // namespace http
OBS_NAMESPACE_END
