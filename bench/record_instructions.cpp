// Instructions per record, measured from outside the library: this program
// records N values into one series, and bench/record_instructions runs it
// under valgrind's callgrind at two values of N and divides the difference
// of the instruction counts by the difference of N, minus the same for a
// loop that records nothing. Startup, registration and exit cancel out.
//
//     obs_record_instructions LIBRARY KIND N
//
// LIBRARY: obs or prometheus-cpp; KIND: histogram (11 default buckets),
// counter, gauge (increment) or none. Values come from a fixed sequence that
// jumps between buckets, as real latencies do.
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "obs/counter.hpp"
#include "obs/gauge.hpp"
#include "obs/histogram.hpp"
#include "obs/registry.hpp"

#if OBS_BENCH_PROMETHEUS_CPP
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#endif

namespace {

volatile double sink;

/// Calls `record(v)` n times with values that wander over 0.1 ms to 20 s.
template <class Record>
void run(long n, Record record) {
  double v = 0.0001;
  for (long i = 0; i < n; ++i) {
    v = v * 1.37;
    if (v > 20) v -= 19.9;
    record(v);
  }
}

int usage() {
  std::fprintf(stderr, "usage: obs_record_instructions obs|prometheus-cpp histogram|counter|gauge|none N\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) return usage();
  const std::string_view library = argv[1], kind = argv[2];
  const long n = std::atol(argv[3]);
  if (kind == "none") {
    // Keeps v computed, at no instruction of its own.
    run(n, [](double v) { asm volatile("" : : "x"(v)); });
    return 0;
  }
  if (library == "obs") {
    obs::registry reg;
    if (kind == "histogram") {
      obs::histogram h = reg.histogram("instructions_seconds");
      run(n, [&](double v) { h.record(v); });
      sink = h.sum();
    } else if (kind == "counter") {
      obs::counter c = reg.counter("instructions_total");
      run(n, [&](double) { c.increment(); });
      sink = static_cast<double>(c.sum());
    } else if (kind == "gauge") {
      obs::gauge g = reg.gauge("instructions_in_flight");
      run(n, [&](double) { g.increment(); });
      sink = g.value();
    } else {
      return usage();
    }
    return 0;
  }
#if OBS_BENCH_PROMETHEUS_CPP
  if (library == "prometheus-cpp") {
    prometheus::Registry reg;
    if (kind == "histogram") {
      auto& h = prometheus::BuildHistogram().Name("instructions_seconds").Register(reg).Add(
          {}, prometheus::Histogram::BucketBoundaries{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10});
      run(n, [&](double v) { h.Observe(v); });
    } else if (kind == "counter") {
      auto& c = prometheus::BuildCounter().Name("instructions_total").Register(reg).Add({});
      run(n, [&](double) { c.Increment(); });
      sink = c.Value();
    } else if (kind == "gauge") {
      auto& g = prometheus::BuildGauge().Name("instructions_in_flight").Register(reg).Add({});
      run(n, [&](double) { g.Increment(); });
      sink = g.Value();
    } else {
      return usage();
    }
    return 0;
  }
#endif
  return usage();
}
