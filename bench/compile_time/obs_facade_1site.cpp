// Compile-time case: include the obs facade and record at one call site.
// Target, in compiled mode: no more than promcpp_counter.cpp (bare counter)
// over empty.cpp; rival also promcpp_registered_counter.cpp (register +
// increment). See bench/run.
#include <obs/metrics.hpp>

void handle_request() { OBS_COUNTER("requests_total", "route", "/").increment(); }
