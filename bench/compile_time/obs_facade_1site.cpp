// Compile-time case: include the obs facade and record at one call site.
// Target: <= 0.3 s over empty.cpp; rivals promcpp_counter.cpp (bare counter)
// and promcpp_registered_counter.cpp (register + increment).
#include <obs/metrics.hpp>

void handle_request() { OBS_COUNTER("requests_total", "route", "/").increment(); }
