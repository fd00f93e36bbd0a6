# Checks that obs/http.hpp, as obs::http's users include it, pulls in
# no Boost, zlib, fmt, registry, exporter, handler or -inl header: compiles
# SOURCE (tests/http/light_header.cpp, whose static_asserts check macros and
# types), then lists every file the compiler opens for it (-M) and fails
# naming each forbidden one. Deterministic: no timing, only the include graph.
# Run by ctest as `cmake -DCOMPILER=... -DFLAGS=a|b|... -DSOURCE=... -P`.
cmake_minimum_required(VERSION 3.25)

foreach(var COMPILER FLAGS SOURCE)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_light_header.cmake needs -D${var}=...")
  endif()
endforeach()
string(REPLACE "|" ";" FLAGS "${FLAGS}")

execute_process(COMMAND ${COMPILER} ${FLAGS} -fsyntax-only ${SOURCE}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${SOURCE} does not compile:\n${out}")
endif()

execute_process(COMMAND ${COMPILER} ${FLAGS} -M ${SOURCE}
                RESULT_VARIABLE rc OUTPUT_VARIABLE deps ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "listing the headers of ${SOURCE} failed:\n${err}")
endif()
# Make syntax: "target: dep dep \<newline> dep ...".
string(REGEX REPLACE "\\\\\n" " " deps "${deps}")
string(REGEX MATCHALL "[^ \t\n]+" files "${deps}")

# Proves the list is the include graph: an empty or broken one would pass.
if(NOT files MATCHES "obs/http/server\\.hpp")
  message(FATAL_ERROR "obs/http/server.hpp missing from the headers of ${SOURCE}:\n${deps}")
endif()

set(forbidden
  "/boost/"
  "/zlib\\.h$"
  "/fmt/"
  "/obs/registry\\.hpp$"
  "/obs/snapshot\\.hpp$"
  "/obs/(prometheus|openmetrics|json)\\.hpp$"
  "/obs/http/(handler|self_metrics)\\.hpp$"
  "-inl\\.hpp$")
set(found "")
foreach(file IN LISTS files)
  foreach(pattern IN LISTS forbidden)
    if(file MATCHES "${pattern}")
      list(APPEND found "${file}")
    endif()
  endforeach()
endforeach()
if(found)
  list(JOIN found "\n  " found)
  message(FATAL_ERROR "obs/http.hpp with OBS_COMPILED_LIB includes:\n  ${found}")
endif()
