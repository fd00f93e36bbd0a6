// Compiles: proves the harness fails only on the misuse in the other files.
#include "obs/metrics.hpp"
#include <string>
void f(const std::string& value) {
  OBS_COUNTER("a_total", "key", "v").increment();
  OBS_HISTOGRAM("a_seconds", "route", "/").record(1);
  OBS_COUNTER_FAMILY("b_total", "key").with(value).increment();
}
