// Instructions per record, measured from outside the library: this program
// records N values into one series, and bench/record_instructions runs it
// under valgrind's callgrind at two values of N and divides the difference
// of the instruction counts by the difference of N, minus the same for a
// loop that records nothing. Startup, registration and exit cancel out.
//
//     obs_record_instructions LIBRARY KIND N
//
// LIBRARY: obs or prometheus-cpp; KIND: histogram (11 default buckets),
// counter, gauge (increment), quantiles (obs: a native histogram;
// prometheus-cpp: a Summary of 0.5, 0.9, 0.99), histogram_exemplar and
// counter_exemplar (obs only: with a trace id exemplar), family (a counter
// family's series found by three runtime label values, then incremented, as a
// service counts a request by method, route and status), or none. Values come from a fixed sequence that
// jumps between buckets, as real latencies do.
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "obs/counter.hpp"
#include "obs/family.hpp"
#include "obs/gauge.hpp"
#include "obs/histogram.hpp"
#include "obs/histogram_config.hpp"
#include "obs/registry.hpp"

#if OBS_BENCH_PROMETHEUS_CPP
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/summary.h>
#endif

namespace {

/// Calls `record(v)` n times with values that wander over 0.1 ms to 20 s.
/// Each case below is its own function, so the compiler decides inlining
/// for each loop alone, as it would at a call site of an instrumented file.
template <class Record>
void run(long n, Record record) {
  double v = 0.0001;
  for (long i = 0; i < n; ++i) {
    v = v * 1.37;
    if (v > 20) v -= 19.9;
    record(v);
  }
}

// Keeps a value computed, at no instruction of its own.
void keep(double v) { asm volatile("" : : "x"(v)); }

[[gnu::noinline]] void nothing(long n) {
  run(n, [](double v) { keep(v); });
}

[[gnu::noinline]] void obs_histogram(obs::registry& reg, long n) {
  obs::histogram h = reg.histogram("instructions_seconds");
  run(n, [&](double v) { h.record(v); });
  keep(h.sum());
}

[[gnu::noinline]] void obs_counter(obs::registry& reg, long n) {
  obs::counter c = reg.counter("instructions_total");
  run(n, [&](double v) {
    keep(v);
    c.increment();
  });
  keep(static_cast<double>(c.sum()));
}

[[gnu::noinline]] void obs_gauge(obs::registry& reg, long n) {
  obs::gauge g = reg.gauge("instructions_in_flight");
  run(n, [&](double v) {
    keep(v);
    g.increment();
  });
  keep(g.value());
}

[[gnu::noinline]] void obs_quantiles(obs::registry& reg, long n) {
  reg.set_histogram_config(obs::matcher::full("instructions_native_seconds"), obs::histogram_config::native());
  obs::histogram h = reg.histogram("instructions_native_seconds");
  run(n, [&](double v) { h.record(v); });
  keep(h.sum());
}

constexpr std::string_view trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";

[[gnu::noinline]] void obs_histogram_exemplar(obs::registry& reg, long n) {
  obs::histogram h = reg.histogram("instructions_seconds");
  run(n, [&](double v) { h.record(v, {{"trace_id", trace_id}}); });
  keep(h.sum());
}

[[gnu::noinline]] void obs_counter_exemplar(obs::registry& reg, long n) {
  obs::counter c = reg.counter("instructions_total");
  run(n, [&](double v) {
    keep(v);
    c.increment(1, {{"trace_id", trace_id}});
  });
  keep(static_cast<double>(c.sum()));
}

// Label values as a request carries them: in buffers of its own, so the
// lookup cannot go by their addresses.
struct request_labels {
  char method[8] = "GET";
  char route[32] = "/redis/{instance}/get/{key}";
  char status[4] = "200";
};

[[gnu::noinline]] void obs_family(obs::registry& reg, long n) {
  obs::counter_family requests = reg.counter_family("instructions_requests_total", {"method", "route", "status"});
  const request_labels l;
  const std::string_view method = l.method, route = l.route, status = l.status;
  run(n, [&](double v) {
    keep(v);
    requests.with(method, route, status).increment();
  });
}

#if OBS_BENCH_PROMETHEUS_CPP
[[gnu::noinline]] void promcpp_family(prometheus::Registry& reg, long n) {
  auto& requests = prometheus::BuildCounter().Name("instructions_requests_total").Register(reg);
  const request_labels l;
  run(n, [&](double v) {
    keep(v);
    requests.Add({{"method", l.method}, {"route", l.route}, {"status", l.status}}).Increment();
  });
}

[[gnu::noinline]] void promcpp_quantiles(prometheus::Registry& reg, long n) {
  auto& s = prometheus::BuildSummary().Name("instructions_native_seconds").Register(reg).Add(
      {}, prometheus::Summary::Quantiles{{0.5, 0.05}, {0.9, 0.01}, {0.99, 0.001}});
  run(n, [&](double v) { s.Observe(v); });
}

[[gnu::noinline]] void promcpp_histogram(prometheus::Registry& reg, long n) {
  auto& h = prometheus::BuildHistogram().Name("instructions_seconds").Register(reg).Add(
      {}, prometheus::Histogram::BucketBoundaries{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10});
  run(n, [&](double v) { h.Observe(v); });
}

[[gnu::noinline]] void promcpp_counter(prometheus::Registry& reg, long n) {
  auto& c = prometheus::BuildCounter().Name("instructions_total").Register(reg).Add({});
  run(n, [&](double v) {
    keep(v);
    c.Increment();
  });
  keep(c.Value());
}

[[gnu::noinline]] void promcpp_gauge(prometheus::Registry& reg, long n) {
  auto& g = prometheus::BuildGauge().Name("instructions_in_flight").Register(reg).Add({});
  run(n, [&](double v) {
    keep(v);
    g.Increment();
  });
  keep(g.Value());
}
#endif

int usage() {
  std::fprintf(stderr,
               "usage: obs_record_instructions obs|prometheus-cpp "
               "histogram|counter|gauge|quantiles|histogram_exemplar|counter_exemplar|family|none N\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) return usage();
  const std::string_view library = argv[1], kind = argv[2];
  const long n = std::atol(argv[3]);
  if (kind == "none") {
    nothing(n);
    return 0;
  }
  if (library == "obs") {
    obs::registry reg;
    if (kind == "histogram") obs_histogram(reg, n);
    else if (kind == "counter") obs_counter(reg, n);
    else if (kind == "gauge") obs_gauge(reg, n);
    else if (kind == "quantiles") obs_quantiles(reg, n);
    else if (kind == "histogram_exemplar") obs_histogram_exemplar(reg, n);
    else if (kind == "counter_exemplar") obs_counter_exemplar(reg, n);
    else if (kind == "family") obs_family(reg, n);
    else return usage();
    return 0;
  }
#if OBS_BENCH_PROMETHEUS_CPP
  if (library == "prometheus-cpp") {
    prometheus::Registry reg;
    if (kind == "histogram") promcpp_histogram(reg, n);
    else if (kind == "counter") promcpp_counter(reg, n);
    else if (kind == "gauge") promcpp_gauge(reg, n);
    else if (kind == "quantiles") promcpp_quantiles(reg, n);
    else if (kind == "family") promcpp_family(reg, n);
    else return usage();
    return 0;
  }
#endif
  return usage();
}
