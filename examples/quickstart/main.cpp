// The README's first example: count a request, time a query, serve /metrics.
// With --once it prints one scrape to stdout instead of serving.
#include <obs/http.hpp>
#include <obs/metrics.hpp>
#include <obs/prometheus.hpp>
#include <obs/registry.hpp>

#include <chrono>
#include <cstdio>
#include <string_view>
#include <thread>

int main(int argc, char** argv) {
  obs::describe_histogram("db_query_duration_seconds", "seconds", "Query latency.");
  OBS_COUNTER("http_requests_total", "method", "GET", "status", "200").increment();
  auto start = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::milliseconds(3));  // the query
  OBS_HISTOGRAM("db_query_duration_seconds").record(std::chrono::steady_clock::now() - start);

  if (argc > 1 && std::string_view(argv[1]) == "--once") {
    std::fputs(obs::prometheus::render(obs::global_registry().snapshot()).c_str(), stdout);
    return 0;
  }
  auto server = obs::http::serve();  // 127.0.0.1:9464
  std::printf("serving http://127.0.0.1:%u/metrics; Ctrl-C to stop\n", unsigned{server->port()});
  for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
}
