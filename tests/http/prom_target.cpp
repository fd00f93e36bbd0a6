// A scrape target with known values for the Prometheus integration test:
// serves an isolated registry on an ephemeral loopback port, prints
// "port <n>" on stdout, and runs until SIGTERM or SIGINT.
#include <csignal>
#include <cstdio>

#include "obs/http.hpp"
#include "obs/registry.hpp"

int main() {
  // Block the stop signals before any thread starts, so every thread inherits
  // the mask and sigwait below is the only receiver.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  obs::registry reg;
  reg.describe_counter("demo_jobs_total", "", "Jobs run.");
  reg.counter("demo_jobs_total", {{"queue", "mail"}}).increment(42);
  reg.describe_gauge("demo_queue_depth", "", "Messages waiting.");
  reg.gauge("demo_queue_depth").set(7);
  reg.set_buckets_for_metric(obs::matcher::full("demo_request_duration_seconds"), {0.1, 0.5, 1.0});
  reg.describe_histogram("demo_request_duration_seconds", "seconds", "Request latency.");
  obs::histogram h = reg.histogram("demo_request_duration_seconds");
  for (int i = 0; i < 10; ++i) h.record(0.05);
  for (int i = 0; i < 30; ++i) h.record(0.3);
  for (int i = 0; i < 60; ++i) h.record(0.7);

  obs::http::options o;
  o.port = 0;
  auto srv = obs::http::serve(o, reg);
  std::printf("port %u\n", static_cast<unsigned>(srv->port()));
  std::fflush(stdout);

  int sig = 0;
  sigwait(&stop, &sig);
  srv->stop();
  return 0;
}
