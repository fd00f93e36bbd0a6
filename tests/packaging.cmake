# Packaging tests: the core stays standard-library only, and a separate CMake
# project can use obs the three ways projects pull in a dependency.

# --- Layering ---------------------------------------------------------------
# One generated header includes every core header, so the layering test sees
# all of them; CONFIGURE_DEPENDS re-globs when a header is added or removed.
file(GLOB_RECURSE obs_core_headers CONFIGURE_DEPENDS
  RELATIVE ${obs_SOURCE_DIR}/include ${obs_SOURCE_DIR}/include/obs/*.hpp)
list(SORT obs_core_headers)
set(obs_layering_includes "")
set(obs_layering_names "")
foreach(header IN LISTS obs_core_headers)
  string(APPEND obs_layering_includes "#include <${header}>\n")
  string(APPEND obs_layering_names "    \"${header}\",\n")
endforeach()
get_target_property(obs_core_links obs INTERFACE_LINK_LIBRARIES)
if(NOT obs_core_links)
  set(obs_core_links "")
endif()
file(CONFIGURE OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/layering/obs_core_headers.hpp @ONLY CONTENT
"// Every header under include/obs/, for tests/layering_test.cpp.
// Written by tests/packaging.cmake at configure time; edits are overwritten.
#pragma once

@obs_layering_includes@
namespace obs_layering {
inline constexpr const char* include_dir = \"${obs_SOURCE_DIR}/include\";
inline constexpr const char* headers[] = {
@obs_layering_names@};
// INTERFACE_LINK_LIBRARIES of the obs target, `;`-separated.
inline constexpr const char* core_link_libraries = \"${obs_core_links}\";
}  // namespace obs_layering
")
obs_add_test(layering_test SOURCES layering_test.cpp)
target_include_directories(layering_test PRIVATE ${CMAKE_CURRENT_BINARY_DIR}/layering)

# --- Consumers ----------------------------------------------------------------
# Each test configures, builds and runs a tiny project from tests/consumers/
# with the compiler and flags of this build, then checks what it prints
# (tests/consumers/expected_output.txt). Sanitizer presets skip them: the
# consumer would need the matching runtime options, and CMake packaging is
# exercised no differently by a sanitizer build.
if(CMAKE_CXX_FLAGS MATCHES "-fsanitize")
  return()
endif()

set(obs_consumer_root ${CMAKE_CURRENT_BINARY_DIR}/consumers)

# obs_add_consumer_test(NAME ARGS...): ARGS are extra -D cache arguments for
# the consumer project tests/consumers/NAME.
function(obs_add_consumer_test name)
  add_test(NAME "consumer: ${name}"
    COMMAND ${CMAKE_COMMAND}
      -DCONSUMER_SOURCE_DIR=${CMAKE_CURRENT_SOURCE_DIR}/consumers/${name}
      -DCONSUMER_BINARY_DIR=${obs_consumer_root}/${name}
      -DEXPECTED_OUTPUT=${CMAKE_CURRENT_SOURCE_DIR}/consumers/expected_output.txt
      -DGENERATOR=${CMAKE_GENERATOR}
      -DCXX_COMPILER=${CMAKE_CXX_COMPILER}
      -DCXX_FLAGS=${CMAKE_CXX_FLAGS}
      ${ARGN}
      -P ${CMAKE_CURRENT_SOURCE_DIR}/consumers/run_consumer.cmake)
  set_tests_properties("consumer: ${name}" PROPERTIES TIMEOUT 600)
endfunction()

# find_package after `cmake --install` of this very build tree; the installed
# package must offer every target this build defines.
set(obs_exported_targets obs::obs)
foreach(target IN LISTS OBS_EXPORTER_TARGETS)
  string(REGEX REPLACE "^obs_" "obs::" target ${target})
  string(APPEND obs_exported_targets ",${target}")
endforeach()
obs_add_consumer_test(find_package
  -DINSTALL_FROM=${CMAKE_BINARY_DIR}
  -DINSTALL_PREFIX=${obs_consumer_root}/prefix
  "-DCONSUMER_ARGS=-DCMAKE_PREFIX_PATH=${obs_consumer_root}/prefix|-DOBS_EXPECTED_VERSION=${obs_VERSION}|-DOBS_EXPECTED_TARGETS=${obs_exported_targets}")
obs_add_consumer_test(add_subdirectory
  -DCONSUMER_ARGS=-DOBS_SOURCE_DIR=${obs_SOURCE_DIR})
obs_add_consumer_test(fetch_content
  -DCONSUMER_ARGS=-DOBS_SOURCE_DIR=${obs_SOURCE_DIR})
if(NOT OBS_INSTALL)
  # Nothing to install from; the other two still run.
  set_tests_properties("consumer: find_package" PROPERTIES DISABLED TRUE)
endif()
