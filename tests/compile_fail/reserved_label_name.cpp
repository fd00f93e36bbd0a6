#include "obs/metrics.hpp"
void f() { OBS_HISTOGRAM("a_seconds", "le", "1").record(1); }
