// The obs::http_compiled library: the http component's out-of-line
// definitions, compiled once (see cmake/component.cmake).
#include "obs/http.hpp"
