#include "obs/metrics.hpp"
void f() { OBS_COUNTER("a_total", "k", "1", "k", "2").increment(); }
