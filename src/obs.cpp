// The obs::obs_compiled library: the core's out-of-line definitions,
// compiled once (see cmake/component.cmake).
#include "obs/registry.hpp"
#include "obs/detail/slot_table.hpp"
