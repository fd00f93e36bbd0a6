#include "obs/metrics.hpp"

#include "odr_shared.hpp"

void record_in_b() { record_shared(); }
const obs::registry* registry_seen_by_b() { return &obs::global_registry(); }
