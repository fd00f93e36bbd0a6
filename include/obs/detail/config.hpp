// Version, the versioned inline namespace and the compile-time switch for obs.
//
// Every obs header opens `OBS_NAMESPACE_BEGIN`, so two copies of this
// header-only library built at different versions get different mangled names
// instead of silently merging at link time.
#pragma once

#define OBS_VERSION_MAJOR 0
#define OBS_VERSION_MINOR 1
#define OBS_VERSION_PATCH 0
#define OBS_VERSION_STRING "0.1.0"

#define OBS_NAMESPACE_BEGIN \
  namespace obs {           \
  inline namespace v0 {
#define OBS_NAMESPACE_END \
  }                       \
  }

// Define OBS_DISABLE to 1 to compile the OBS_* recording macros to nothing.
// Their arguments are still type-checked, never evaluated.
#ifndef OBS_DISABLE
#define OBS_DISABLE 0
#endif
