#include "obs/metrics.hpp"
void f() { OBS_COUNTER_FAMILY("a_total", "method", "status").with("GET").increment(); }
