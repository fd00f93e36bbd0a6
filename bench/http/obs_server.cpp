// obs's endpoint serving the benchmark data on 127.0.0.1:<port>
// (argv[1], 0 for ephemeral). Prints "port <n>", runs until SIGTERM/SIGINT.
#include <csignal>
#include <cstdio>
#include <cstdlib>

#include "data.hpp"
#include "obs/http.hpp"
#include "obs/registry.hpp"

int main(int argc, char** argv) {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  namespace d = obs_bench_http;
  obs::registry reg;
  reg.describe_counter("bench_requests_total", "", "Requests.");
  reg.describe_histogram("bench_latency_seconds", "seconds", "Latency.");
  reg.set_buckets_for_metric(obs::matcher::full("bench_latency_seconds"), d::buckets);
  auto requests = reg.counter_family("bench_requests_total", {"route", "id"});
  for (int i = 0; i < d::counter_series; ++i) requests.with(d::route(i), d::id(i)).increment(i);
  auto latency = reg.histogram_family("bench_latency_seconds", {"id"});
  for (int i = 0; i < d::histogram_series; ++i)
    for (int k = 0; k < 5; ++k) latency.with(d::id(i)).record(d::observation(i, k));

  obs::http::options o;
  o.port = static_cast<std::uint16_t>(argc > 1 ? std::atoi(argv[1]) : 0);
  o.threads = 2;                 // as the Exposer below
  o.max_inflight_scrapes = 64;   // measure throughput, not the limiter
  auto srv = obs::http::serve(o, reg);
  std::printf("port %u\n", static_cast<unsigned>(srv->port()));
  std::fflush(stdout);
  int sig = 0;
  sigwait(&stop, &sig);
  return 0;
}
