#include "obs/metrics.hpp"
void f() { OBS_COUNTER("bad-name_total").increment(); }
