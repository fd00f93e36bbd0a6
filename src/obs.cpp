// The obs::obs library: the core's out-of-line definitions,
// compiled once (see cmake/component.cmake).
#include "obs/detail/core-inl.hpp"
#include "obs/detail/site-inl.hpp"
