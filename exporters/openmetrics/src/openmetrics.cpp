// The obs::openmetrics library: the openmetrics component's out-of-line
// definitions, compiled once (see cmake/component.cmake).
#include "obs/openmetrics-inl.hpp"
