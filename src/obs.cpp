// The obs::obs_compiled library: the core's out-of-line definitions,
// compiled once (see cmake/component.cmake).
#include "obs/detail/core-inl.hpp"
