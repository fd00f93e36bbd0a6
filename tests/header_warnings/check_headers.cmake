# Compiles, for every header under HEADER_ROOTS, a one-line translation unit
# that includes it, with a consumer's strict warning flags and -fsyntax-only,
# and fails naming each header that warns, with the compiler's output.
# Run by ctest as `cmake -D... -P check_headers.cmake` (see
# tests/header_warnings.cmake). List arguments are separated by `|`:
#
#   COMPILER       the C++ compiler to run
#   NAME           what to call it in messages ("gcc", "clang")
#   HEADER_ROOTS   include directories, passed as -I as a consumer's own
#                  include paths are; every *.hpp below one is checked
#   EXCLUDE        optional regular expression: headers (named relative to
#                  their root, e.g. obs/http/server.hpp) to skip
#   INCLUDE_DIRS   the include directories the headers' targets carry; those
#                  not under HEADER_ROOTS (fmt's, Boost's) are passed as
#                  -isystem, as CMake passes an imported target's
#   IMPLICIT_DIRS  the compiler's own include directories, never passed
#                  (an explicit -isystem /usr/include breaks #include_next)
#   DEFINITIONS    -D definitions the targets carry (FMT_HEADER_ONLY=1)
#   FLAGS          the warning flags and standard under test
#   WORK_DIR       where the translation units are written
#   JOBS           compilers run at once (default 1)
#   EXPECT_FAILURE if true, every header must fail instead, with the warning
#                  its first line names: `// expect: <name regex>` matches
#                  the bracketed name the compiler prints, e.g. `shadow` for
#                  [-Werror=shadow] (gcc) and [-Werror,-Wshadow] (clang)
cmake_minimum_required(VERSION 3.25)

# Internal: -DJOB=<path> runs the one compile <path>.cmake describes and
# leaves its exit code and output in <path>.rc and <path>.out.
if(DEFINED JOB)
  include(${JOB}.cmake)
  execute_process(COMMAND ${command} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  file(WRITE ${JOB}.out "${out}")
  file(WRITE ${JOB}.rc "${rc}")
  return()
endif()

foreach(var COMPILER NAME HEADER_ROOTS FLAGS WORK_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_headers.cmake needs -D${var}=...")
  endif()
endforeach()
foreach(var HEADER_ROOTS INCLUDE_DIRS IMPLICIT_DIRS DEFINITIONS FLAGS)
  string(REPLACE "|" ";" ${var} "${${var}}")
endforeach()
if(NOT JOBS)
  set(JOBS 1)
endif()

set(include_flags "")
foreach(root IN LISTS HEADER_ROOTS)
  list(APPEND include_flags -I${root})
endforeach()
list(REMOVE_DUPLICATES INCLUDE_DIRS)
foreach(dir IN LISTS INCLUDE_DIRS)
  if(dir IN_LIST HEADER_ROOTS OR dir IN_LIST IMPLICIT_DIRS)
    continue()
  endif()
  list(APPEND include_flags -isystem ${dir})
endforeach()
set(definition_flags "")
foreach(definition IN LISTS DEFINITIONS)
  list(APPEND definition_flags -D${definition})
endforeach()

# Every header, named as a consumer includes it, and its translation unit.
file(REMOVE_RECURSE ${WORK_DIR})
set(headers "")
foreach(root IN LISTS HEADER_ROOTS)
  file(GLOB_RECURSE found RELATIVE ${root} ${root}/*.hpp)
  list(SORT found)
  foreach(header IN LISTS found)
    if(DEFINED EXCLUDE AND NOT EXCLUDE STREQUAL "" AND header MATCHES "${EXCLUDE}")
      continue()
    endif()
    list(APPEND headers ${header})
    string(MAKE_C_IDENTIFIER ${header} id)
    set(source_${id} ${WORK_DIR}/${id}.cpp)
    set(path_${id} ${root}/${header})
    file(WRITE ${source_${id}} "#include <${header}>\n")
  endforeach()
endforeach()
list(LENGTH headers header_count)
if(header_count EQUAL 0)
  message(FATAL_ERROR "no headers under ${HEADER_ROOTS}: nothing would be checked")
endif()

# Runs JOBS compiles at a time. execute_process runs its COMMANDs at once, as
# a pipeline; each is this script in JOB mode, which keeps its compiler's
# output apart from the others'.
set(failed_headers "")
set(report "")
math(EXPR last "${header_count} - 1")
foreach(start RANGE 0 ${last} ${JOBS})
  list(SUBLIST headers ${start} ${JOBS} batch)
  set(pipeline "")
  foreach(member IN LISTS batch)
    string(MAKE_C_IDENTIFIER ${member} id)
    set(command ${COMPILER} ${FLAGS} -fsyntax-only ${definition_flags} ${include_flags}
        ${source_${id}})
    set(command_${id} "${command}")
    file(WRITE ${WORK_DIR}/${id}.cmake "set(command [==[${command}]==])\n")
    file(REMOVE ${WORK_DIR}/${id}.rc ${WORK_DIR}/${id}.out)
    list(APPEND pipeline COMMAND ${CMAKE_COMMAND} -DJOB=${WORK_DIR}/${id} -P ${CMAKE_CURRENT_LIST_FILE})
  endforeach()
  execute_process(${pipeline} OUTPUT_QUIET ERROR_VARIABLE job_errors)
  foreach(member IN LISTS batch)
    string(MAKE_C_IDENTIFIER ${member} id)
    if(NOT EXISTS ${WORK_DIR}/${id}.rc)
      message(FATAL_ERROR "could not run ${COMPILER} on ${member}:\n${job_errors}")
    endif()
    file(READ ${WORK_DIR}/${id}.rc rc)
    file(READ ${WORK_DIR}/${id}.out out)
    set(command "${command_${id}}")
    string(REPLACE ";" " " shown "${command}")
    if(NOT EXPECT_FAILURE)
      if(NOT rc EQUAL 0)
        list(APPEND failed_headers ${member})
        string(APPEND report "\n=== ${member} fails with ${NAME} (exit ${rc}):\n${shown}\n${out}")
      endif()
      continue()
    endif()
    # A broken fixture must fail, and for the warning it was written for,
    # not for a typo or a missing include.
    file(STRINGS ${path_${id}} expect REGEX "^// expect: " LIMIT_COUNT 1)
    string(REGEX REPLACE "^// expect: *" "" expect "${expect}")
    if(expect STREQUAL "")
      list(APPEND failed_headers ${member})
      string(APPEND report "\n=== ${member}: no `// expect: <warning>` line\n")
    elseif(rc EQUAL 0)
      list(APPEND failed_headers ${member})
      string(APPEND report "\n=== ${member} compiles cleanly with ${NAME}, "
                           "but should warn with ${expect}:\n${shown}\n${out}")
    elseif(NOT out MATCHES "\\[-Werror(=|,-W)(${expect})\\]")
      list(APPEND failed_headers ${member})
      string(APPEND report "\n=== ${member} fails with ${NAME}, but not with a "
                           "${expect} warning:\n${shown}\n${out}")
    else()
      message(STATUS "${member}: rejected by ${NAME} with ${CMAKE_MATCH_0}, as expected")
    endif()
  endforeach()
endforeach()

list(JOIN FLAGS " " shown_flags)
if(failed_headers)
  # Compiler output verbatim: FATAL_ERROR would re-wrap its lines.
  message(NOTICE "${report}")
  list(LENGTH failed_headers failed_count)
  list(JOIN failed_headers "\n  " failed_list)
  if(EXPECT_FAILURE)
    set(what "broken fixtures were not rejected as they should be")
  else()
    set(what "headers are not warning-clean")
  endif()
  message(FATAL_ERROR "${failed_count} of ${header_count} ${what} with ${NAME} "
                      "(${shown_flags}):\n  ${failed_list}")
endif()
if(EXPECT_FAILURE)
  message(STATUS "all ${header_count} broken fixtures rejected by ${NAME}")
else()
  message(STATUS "all ${header_count} headers are warning-clean with ${NAME} (${shown_flags})")
endif()
