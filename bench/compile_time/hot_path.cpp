// Not a compile-time case: the recording functions bench/compile_time/hot_path
// compiles against two source trees to compare their instructions. Each
// function records once, through a macro site or a held handle.
#include <obs/metrics.hpp>

#include <cstdint>
#include <string_view>

void macro_counter() { OBS_COUNTER("hot_requests_total", "route", "/").increment(); }
void macro_counter_n(std::uint64_t n) { OBS_COUNTER("hot_bytes_total").increment(n); }
void macro_float_counter(double v) { OBS_FLOAT_COUNTER("hot_cpu_seconds_total").increment(v); }
void macro_gauge(double v) { OBS_GAUGE("hot_depth", "queue", "a").set(v); }
void macro_gauge_increment() { OBS_GAUGE("hot_depth_increments").increment(); }
void macro_histogram(double v) { OBS_HISTOGRAM("hot_duration_seconds", "route", "/").record(v); }
void macro_family(std::string_view a, std::string_view b) {
  OBS_COUNTER_FAMILY("hot_family_total", "method", "status").with(a, b).increment();
}
void macro_histogram_family(std::string_view a, double v) {
  OBS_HISTOGRAM_FAMILY("hot_family_seconds", "method").with(a).record(v);
}
void handle_counter(const obs::counter& c) { c.increment(); }
void handle_histogram(const obs::histogram& h, double v) { h.record(v); }
void handle_family(const obs::counter_family& f, std::string_view a, std::string_view b) { f.with(a, b).increment(); }
