// The obs::prometheus library: the prometheus component's out-of-line
// definitions, compiled once (see cmake/component.cmake).
#include "obs/prometheus-inl.hpp"
