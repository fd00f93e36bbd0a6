// The obs::protobuf library: the protobuf component's out-of-line
// definitions, compiled once (see cmake/component.cmake).
#include "obs/protobuf-inl.hpp"
