// prometheus-cpp's Exposer serving the benchmark data on 127.0.0.1:<port>
// (argv[1]). Prints "port <n>", runs until SIGTERM/SIGINT.
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <csignal>
#include <cstdio>
#include <memory>
#include <string>

#include "data.hpp"

int main(int argc, char** argv) {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  namespace d = obs_bench_http;
  auto reg = std::make_shared<prometheus::Registry>();
  auto& requests = prometheus::BuildCounter().Name("bench_requests_total").Help("Requests.").Register(*reg);
  for (int i = 0; i < d::counter_series; ++i)
    requests.Add({{"route", d::route(i)}, {"id", d::id(i)}}).Increment(i);
  auto& latency = prometheus::BuildHistogram().Name("bench_latency_seconds").Help("Latency.").Register(*reg);
  for (int i = 0; i < d::histogram_series; ++i) {
    auto& h = latency.Add({{"id", d::id(i)}}, prometheus::Histogram::BucketBoundaries(d::buckets));
    for (int k = 0; k < 5; ++k) h.Observe(d::observation(i, k));
  }

  const std::string port = argc > 1 ? argv[1] : "9091";
  prometheus::Exposer exposer("127.0.0.1:" + port, 2);
  exposer.RegisterCollectable(reg);
  std::printf("port %u\n", static_cast<unsigned>(exposer.GetListeningPorts().front()));
  std::fflush(stdout);
  int sig = 0;
  sigwait(&stop, &sig);
  return 0;
}
