// The obs::http library: the http component's out-of-line
// definitions, compiled once (see cmake/component.cmake).
#include "obs/http.hpp"
#include "obs/http/gzip-inl.hpp"
#include "obs/http/handler-inl.hpp"
#include "obs/http/health-inl.hpp"
#include "obs/http/negotiation-inl.hpp"
#include "obs/http/registry_source-inl.hpp"
#include "obs/http/server-inl.hpp"
