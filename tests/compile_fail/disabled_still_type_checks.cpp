#define OBS_DISABLE 1
#include "obs/metrics.hpp"
void f() { OBS_COUNTER("a_total", "key", 42).increment(); }
