// The program tests/remote_write/receivers_test.py pushes with.
//
//   push_target once URL [native]
//     records one of every type (a native histogram too, with exemplars),
//     pushes them (once at start, once at exit) and prints, between the two,
//     the snapshot's Prometheus text exposition: what a receiver must hold.
//   push_target ticks URL TICKS TICK_MS [MAX_QUEUE_SAMPLES]
//     increments ticks_total, then pushes, every TICK_MS, TICKS times; at
//     exit prints `samples_per_push N` and the pusher's own totals
//     (`sent N`, `failed N`, `dropped N`, `retries N`).
//
//   push_target hold URL SECONDS SERIES MAX_QUEUE_BYTES
//     SERIES counters, pushed every 50 ms for SECONDS into a queue of at most
//     MAX_QUEUE_BYTES; then prints the same totals as `ticks`.
//
// OBS_PUSH_CA_FILE names the authorities an https receiver is checked
// against; OBS_PUSH_SHUTDOWN_MS bounds the flush at exit (20 s).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <thread>

#include "obs/prometheus.hpp"
#include "obs/registry.hpp"
#include "obs/remote_write.hpp"

namespace {

obs::remote_write::options options_for(const char* url) {
  obs::remote_write::options o;
  o.url = url;
  o.interval = std::chrono::hours(1);  // pushes come from push_now() and the destructor
  o.external_labels = {{"job", "obs_push_test"}, {"instance", "push_target"}};
  o.min_backoff = std::chrono::milliseconds(50);
  o.max_backoff = std::chrono::milliseconds(800);
  o.timeout = std::chrono::milliseconds(2000);
  o.shutdown_deadline = std::chrono::milliseconds(20000);
  if (const char* ca = std::getenv("OBS_PUSH_CA_FILE")) o.ca_file = ca;
  if (const char* ms = std::getenv("OBS_PUSH_SHUTDOWN_MS")) o.shutdown_deadline = std::chrono::milliseconds(std::atoi(ms));
  return o;
}

std::uint64_t total(const obs::snapshot& s, std::string_view name) {
  const obs::family_snapshot* f = s.find(name);
  return f && !f->series.empty() ? f->series[0].value.as_integer() : 0;
}

void print_totals(const obs::snapshot& s, std::size_t per_push) {
  std::printf("samples_per_push %zu\nsent %llu\nfailed %llu\ndropped %llu\nretries %llu\n", per_push,
              static_cast<unsigned long long>(total(s, "obs_remote_write_samples_sent_total")),
              static_cast<unsigned long long>(total(s, "obs_remote_write_samples_failed_total")),
              static_cast<unsigned long long>(total(s, "obs_remote_write_samples_dropped_total")),
              static_cast<unsigned long long>(total(s, "obs_remote_write_retries_total")));
}

int once(const char* url, bool native) {
  obs::registry reg;
  reg.set_histogram_config(obs::matcher::full("push_native_seconds"), obs::histogram_config::native());
  reg.set_histogram_config(obs::matcher::full("push_quantiles_seconds"), obs::histogram_config::high_resolution());
  reg.describe_counter("push_jobs_total", "", "Jobs.");
  reg.counter("push_jobs_total", {{"queue", "mail"}}).increment(7, {{"trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"}});
  reg.gauge("push_temperature_celsius").set(-3.5);
  reg.info("push_build", {{"version", "1.2.3"}});
  obs::histogram classic = reg.histogram("push_latency_seconds", {{"route", "/a"}});
  for (double v : {0.003, 0.02, 0.2, 2.0, 20.0}) classic.record(v, {{"trace_id", "00f067aa0ba902b7"}});
  obs::histogram n = reg.histogram("push_native_seconds");
  for (double v : {0.001, 0.002, 0.004, 0.008, 0.5, 0.75, 3.0}) n.record(v);
  obs::histogram q = reg.histogram("push_quantiles_seconds");
  for (int i = 1; i <= 100; ++i) q.record(i / 1000.0);
  obs::remote_write::options o = options_for(url);
  o.native_histograms = native;
  obs::remote_write::pusher push(reg, o);
  std::fputs(obs::prometheus::render(reg.snapshot()).c_str(), stdout);
  std::fflush(stdout);
  return 0;
}

int ticks(const char* url, int count, int tick_ms, std::size_t max_queue_samples) {
  obs::registry reg;
  obs::counter ticks = reg.counter("ticks_total");
  obs::remote_write::options o = options_for(url);
  if (max_queue_samples) o.max_queue_samples = max_queue_samples;
  std::size_t per_push = 0;
  {
    obs::remote_write::pusher push(reg, o);  // pushes ticks_total = 0 at once
    for (int i = 1; i <= count; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(tick_ms));
      ticks.increment();
      push.push_now();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(tick_ms));
    for (const auto& r : obs::remote_write::encode(reg.snapshot(), {})) per_push += r.samples;
  }  // the last push, and the flush
  print_totals(reg.snapshot(), per_push);
  return 0;
}

int hold(const char* url, int seconds, int series, std::size_t max_queue_bytes) {
  obs::registry reg;
  reg.set_cardinality_limit(static_cast<std::size_t>(series) + 1);
  obs::counter_family requests = reg.counter_family("held_requests_total", {"id"});
  for (int i = 0; i < series; ++i) requests.with(std::to_string(i)).increment();
  obs::remote_write::options o = options_for(url);
  o.interval = std::chrono::milliseconds(50);
  o.max_queue_bytes = max_queue_bytes;
  o.shutdown_deadline = std::chrono::milliseconds(200);
  {
    obs::remote_write::pusher push(reg, o);
    std::this_thread::sleep_for(std::chrono::seconds(seconds));
  }
  print_totals(reg.snapshot(), 0);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string_view mode = argc > 2 ? argv[1] : "";
  if (mode == "once") return once(argv[2], argc > 3 && std::string_view(argv[3]) == "native");
  if (mode == "hold" && argc == 6)
    return hold(argv[2], std::atoi(argv[3]), std::atoi(argv[4]), std::strtoul(argv[5], nullptr, 10));
  if (mode == "ticks" && argc >= 5)
    return ticks(argv[2], std::atoi(argv[3]), std::atoi(argv[4]), argc > 5 ? std::strtoul(argv[5], nullptr, 10) : 0);
  std::fprintf(stderr,
               "usage: push_target once URL [native] | ticks URL TICKS TICK_MS [MAX_QUEUE_SAMPLES] | "
               "hold URL SECONDS SERIES MAX_QUEUE_BYTES\n");
  return 2;
}
