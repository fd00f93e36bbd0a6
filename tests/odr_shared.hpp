#pragma once

#include "obs/metrics.hpp"
#include "obs/registry.hpp"

// An inline function with one call site, compiled into both units.
inline void record_shared() { OBS_COUNTER("odr_test_total", "unit", "shared").increment(); }

void record_in_a();
void record_in_b();
const obs::registry* registry_seen_by_b();
