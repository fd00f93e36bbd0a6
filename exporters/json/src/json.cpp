// The obs::json library: the json component's out-of-line
// definitions, compiled once (see cmake/component.cmake).
#include "obs/json-inl.hpp"
