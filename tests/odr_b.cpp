#include "obs/metrics.hpp"
// Reading what the macros recorded needs the registry; recording does not.
#include "obs/registry.hpp"

#include "odr_shared.hpp"

void record_in_b() { record_shared(); }
const obs::registry* registry_seen_by_b() { return &obs::global_registry(); }
