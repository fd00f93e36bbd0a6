// Compile-time case: include the obs facade and record one counter.
#include <obs/metrics.hpp>

void handle_request() { OBS_COUNTER("requests_total", "route", "/").increment(); }
