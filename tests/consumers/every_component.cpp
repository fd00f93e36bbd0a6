// The program tests/consumers/every_component builds: it uses every component
// of obs once, the way a service would, and prints what each gave, for
// run_consumer.cmake to check against every_component_expected_output.txt.
#include <cstdio>
#include <string>

#include <obs/json.hpp>
#include <obs/metrics.hpp>
#include <obs/openmetrics.hpp>
#include <obs/process_metrics.hpp>
#include <obs/prometheus.hpp>
#include <obs/registry.hpp>
#include <obs/snapshot.hpp>
#if OBS_CONSUMER_HTTP
#include <obs/http.hpp>
#endif
#if OBS_CONSUMER_PROTOBUF
#include <obs/protobuf.hpp>
#endif
#if OBS_CONSUMER_REMOTE_WRITE
#include <obs/remote_write.hpp>
#endif

namespace {
const char* yes(bool b) { return b ? "yes" : "no"; }
}  // namespace

int main() {
  OBS_COUNTER("jobs_total", "queue", "mail").increment();
  const auto process = obs::register_process_metrics();
  const obs::snapshot snap = obs::global_registry().snapshot();

  const std::string text = obs::prometheus::render(snap);
  std::fputs(text.c_str(), stdout);
  const std::string om = obs::openmetrics::render(snap);
  std::printf("openmetrics ends with # EOF: %s\n", yes(om.size() >= 6 && om.compare(om.size() - 6, 6, "# EOF\n") == 0));
  std::printf("json names jobs_total: %s\n", yes(obs::json::render(snap).find("\"jobs_total\"") != std::string::npos));
  std::printf("process_metrics exported: %s\n", yes(text.find("process_cpu_seconds_total") != std::string::npos));
#if OBS_CONSUMER_PROTOBUF
  std::printf("protobuf names jobs_total: %s\n",
              yes(obs::protobuf::render(snap).find("jobs_total") != std::string::npos));
#endif
#if OBS_CONSUMER_REMOTE_WRITE
  std::printf("remote_write encodes jobs_total: %s\n",
              yes(obs::remote_write::encode(snap, {}).at(0).bytes.find("jobs_total") != std::string::npos));
#endif
#if OBS_CONSUMER_HTTP
  obs::http::options o;
  o.port = 0;
  auto server = obs::http::serve(o);
  std::printf("http serving: %s\n", yes(server->port() != 0));
  server->stop();
#endif
}
