#include "obs/metrics.hpp"
#include <string>
void f(const std::string& value) { OBS_COUNTER("a_total", "key", value).increment(); }
