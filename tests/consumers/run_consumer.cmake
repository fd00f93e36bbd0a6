# Configures, builds and runs one consumer project, then checks its output.
# Run by ctest as `cmake -D... -P run_consumer.cmake` (see tests/packaging.cmake):
#
#   CONSUMER_SOURCE_DIR  the consumer project (tests/consumers/<name>)
#   CONSUMER_BINARY_DIR  its build directory, emptied first
#   CONSUMER_ARGS        extra -D arguments for it, separated by `|`
#   LINKAGE              compiled or header_only: which obs targets it links
#                        (OBS_CONSUMER_LINKAGE; default compiled)
#   EXPECTED_OUTPUT      a file of lines that must each appear in the output
#   GENERATOR, CXX_COMPILER, CXX_FLAGS, CXX_LAUNCHER (may be empty)
#                        taken from the enclosing obs build
#   INSTALL_FROM, INSTALL_PREFIX
#                        if set, `cmake --install INSTALL_FROM` into a fresh
#                        INSTALL_PREFIX first
#   EXPECT_CONFIGURE_FAILURE
#                        if set, a regular expression: configuring must fail
#                        with output that matches it, and nothing is built
#                        (EXPECTED_OUTPUT is then not needed)
cmake_minimum_required(VERSION 3.25)

set(required_vars CONSUMER_SOURCE_DIR CONSUMER_BINARY_DIR GENERATOR CXX_COMPILER)
if(NOT DEFINED EXPECT_CONFIGURE_FAILURE)
  list(APPEND required_vars EXPECTED_OUTPUT)
endif()
foreach(var IN LISTS required_vars)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_consumer.cmake needs -D${var}=...")
  endif()
endforeach()

# run(STEP COMMAND...): runs a command and stops with its output if it fails.
function(run step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${step} failed (${rc}):\n${ARGN}\n${out}")
  endif()
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

if(DEFINED INSTALL_FROM)
  file(REMOVE_RECURSE ${INSTALL_PREFIX})
  run("install" ${CMAKE_COMMAND} --install ${INSTALL_FROM} --prefix ${INSTALL_PREFIX})
endif()

# A fresh build directory each time, so a stale cache cannot hide a change.
file(REMOVE_RECURSE ${CONSUMER_BINARY_DIR})
string(REPLACE "|" ";" consumer_args "${CONSUMER_ARGS}")
set(configure ${CMAKE_COMMAND} -S ${CONSUMER_SOURCE_DIR} -B ${CONSUMER_BINARY_DIR}
    -G ${GENERATOR} -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
    "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}" ${consumer_args})
if(DEFINED LINKAGE)
  list(APPEND configure -DOBS_CONSUMER_LINKAGE=${LINKAGE})
endif()
if(CXX_LAUNCHER)
  list(APPEND configure -DCMAKE_CXX_COMPILER_LAUNCHER=${CXX_LAUNCHER})
endif()
if(DEFINED EXPECT_CONFIGURE_FAILURE)
  execute_process(COMMAND ${configure} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(rc EQUAL 0)
    message(FATAL_ERROR "configure succeeded but was expected to fail:\n${configure}\n${out}")
  endif()
  # CMake wraps long messages; match against the text with its line breaks
  # and indentation folded into single spaces.
  string(REGEX REPLACE "[ \t\r\n]+" " " folded "${out}")
  if(NOT folded MATCHES "${EXPECT_CONFIGURE_FAILURE}")
    message(FATAL_ERROR "configure failed (${rc}), but its output does not match "
                        "\"${EXPECT_CONFIGURE_FAILURE}\":\n${out}")
  endif()
  message(STATUS "configure failed as expected:\n${out}")
  return()
endif()
run("configure" ${configure})
run("build" ${CMAKE_COMMAND} --build ${CONSUMER_BINARY_DIR})
run("run" ${CONSUMER_BINARY_DIR}/consumer)
set(output "${step_output}")

file(STRINGS ${EXPECTED_OUTPUT} expected_lines)
if(NOT expected_lines)
  message(FATAL_ERROR "${EXPECTED_OUTPUT} lists no lines: nothing would be checked")
endif()
string(REPLACE "\n" ";" output_lines "${output}")
set(missing "")
foreach(line IN LISTS expected_lines)
  if(NOT line IN_LIST output_lines)
    string(APPEND missing "  ${line}\n")
  endif()
endforeach()
if(missing)
  message(FATAL_ERROR "the consumer's output lacks these lines:\n${missing}output was:\n${output}")
endif()
list(LENGTH expected_lines checked)
message(STATUS "consumer output has all ${checked} expected lines:\n${output}")
