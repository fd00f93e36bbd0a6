# Preprocesses a one-line translation unit that includes HEADER, with
# OBS_COMPILED_LIB defined (what an instrumented file of a compiled build
# sees), and fails if the output pulls in any header FORBIDDEN names. Run by
# ctest as `cmake -D... -P check_includes.cmake`; deterministic, no timing.
# Like fmt's base-test, which guards what base.h may include.
#
#   COMPILER    the C++ compiler
#   HEADER      what to include, e.g. obs/metrics.hpp
#   INCLUDE_DIR the core's include directory
#   FORBIDDEN   `|`-separated file names: standard headers (map, chrono) or
#               obs headers (obs/registry.hpp)
#   WORK_DIR    where the translation unit is written
cmake_minimum_required(VERSION 3.25)
foreach(var COMPILER HEADER INCLUDE_DIR FORBIDDEN WORK_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_includes.cmake needs -D${var}=...")
  endif()
endforeach()

string(MAKE_C_IDENTIFIER "${HEADER}" tu_name)
set(tu ${WORK_DIR}/${tu_name}.cpp)
file(WRITE ${tu} "#include <${HEADER}>\n")
execute_process(
  COMMAND ${COMPILER} -std=c++20 -DOBS_COMPILED_LIB -I${INCLUDE_DIR} -E ${tu}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "preprocessing ${HEADER} failed:\n${err}")
endif()

# Line markers name every file the preprocessor entered: # 1 "/path/file" 1
string(REGEX MATCHALL "\n# [0-9]+ \"[^\"]+\" 1" entered "${out}")
string(REPLACE "|" ";" forbidden "${FORBIDDEN}")
set(found "")
foreach(marker IN LISTS entered)
  string(REGEX REPLACE "^\n# [0-9]+ \"([^\"]+)\" 1$" "\\1" path "${marker}")
  foreach(name IN LISTS forbidden)
    string(REGEX REPLACE "([.+])" "\\\\\\1" pattern "${name}")
    if(path MATCHES "(^|/)${pattern}$" AND NOT path IN_LIST found)
      list(APPEND found ${path})
    endif()
  endforeach()
endforeach()
if(found)
  list(JOIN found "\n  " found)
  message(FATAL_ERROR "${HEADER} pulls in headers an instrumented file must not pay for:\n  ${found}")
endif()
message(STATUS "${HEADER}: none of ${FORBIDDEN}")
