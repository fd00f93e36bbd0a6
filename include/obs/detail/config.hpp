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

// With OBS_COMPILED_LIB defined (the obs::obs target defines it),
// obs's out-of-line functions are compiled once, in that library, and the
// headers only declare them; otherwise each header includes its `-inl.hpp`
// and they are inline, header-only. Like fmt's FMT_HEADER_ONLY the other way
// round, and spdlog's SPDLOG_COMPILED_LIB.
#ifdef OBS_COMPILED_LIB
#define OBS_HEADER_ONLY 0
#define OBS_INLINE
#else
#define OBS_HEADER_ONLY 1
#define OBS_INLINE inline
#endif
