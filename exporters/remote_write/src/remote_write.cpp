// The obs::remote_write library: the remote_write component's out-of-line
// definitions, compiled once (see cmake/component.cmake).
#include "obs/remote_write-inl.hpp"
