#include "obs/metrics.hpp"
void f() { OBS_COUNTER("a_total", "bad key", "v").increment(); }
