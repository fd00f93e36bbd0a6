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
# What both forms of the core link (obs and obs_header_only).
set(obs_core_links "")
foreach(target obs obs_header_only)
  get_target_property(links ${target} INTERFACE_LINK_LIBRARIES)
  if(links)
    list(APPEND obs_core_links ${links})
  endif()
endforeach()
file(CONFIGURE OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/layering/obs_core_headers.hpp @ONLY CONTENT
"// Every header under include/obs/, for tests/layering_test.cpp.
// Written by tests/packaging.cmake at configure time; edits are overwritten.
#pragma once

@obs_layering_includes@
namespace obs_layering {
inline constexpr const char* include_dir = \"${obs_SOURCE_DIR}/include\";
inline constexpr const char* headers[] = {
@obs_layering_names@};
// INTERFACE_LINK_LIBRARIES of the obs and obs_header_only targets, `;`-separated.
inline constexpr const char* core_link_libraries = \"${obs_core_links}\";
}  // namespace obs_layering
")
obs_add_test(layering_test SOURCES layering_test.cpp)
obs_add_test(include_trees_test SOURCES include_trees_test.cpp LIBS obs::prometheus)
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

# obs_add_consumer_test(NAME [PROJECT dir] [EXPECTED_OUTPUT file]
#                       [EXPECT_CONFIGURE_FAILURE regex] ARGS...):
# builds tests/consumers/<dir> (default: NAME) and checks its output against
# tests/consumers/<file> (default: expected_output.txt), or checks that
# configuring it fails with a matching message; ARGS are extra -D arguments
# for run_consumer.cmake.
function(obs_add_consumer_test name)
  cmake_parse_arguments(arg "" "PROJECT;EXPECTED_OUTPUT;EXPECT_CONFIGURE_FAILURE" "" ${ARGN})
  if(DEFINED arg_EXPECT_CONFIGURE_FAILURE)
    list(APPEND arg_UNPARSED_ARGUMENTS "-DEXPECT_CONFIGURE_FAILURE=${arg_EXPECT_CONFIGURE_FAILURE}")
  endif()
  if(NOT arg_PROJECT)
    set(arg_PROJECT ${name})
  endif()
  if(NOT arg_EXPECTED_OUTPUT)
    set(arg_EXPECTED_OUTPUT expected_output.txt)
  endif()
  add_test(NAME "consumer: ${name}"
    COMMAND ${CMAKE_COMMAND}
      -DCONSUMER_SOURCE_DIR=${CMAKE_CURRENT_SOURCE_DIR}/consumers/${arg_PROJECT}
      -DCONSUMER_BINARY_DIR=${obs_consumer_root}/${name}
      -DEXPECTED_OUTPUT=${CMAKE_CURRENT_SOURCE_DIR}/consumers/${arg_EXPECTED_OUTPUT}
      -DGENERATOR=${CMAKE_GENERATOR}
      -DCXX_COMPILER=${CMAKE_CXX_COMPILER}
      -DCXX_FLAGS=${CMAKE_CXX_FLAGS}
      -DCXX_LAUNCHER=${CMAKE_CXX_COMPILER_LAUNCHER}
      -DLINKAGE=${OBS_TEST_LINKAGE}
      ${arg_UNPARSED_ARGUMENTS}
      -P ${CMAKE_CURRENT_SOURCE_DIR}/consumers/run_consumer.cmake)
  set_tests_properties("consumer: ${name}" PROPERTIES TIMEOUT 600)
  if(NOT OBS_INSTALL AND arg_UNPARSED_ARGUMENTS MATCHES "-DINSTALL_FROM=")
    # Nothing to install from; the source-tree consumers still run.
    set_tests_properties("consumer: ${name}" PROPERTIES DISABLED TRUE)
  endif()
endfunction()

# The find_package consumers each `cmake --install` this very build tree into
# a prefix of their own (so they can run in parallel), then search it.
# obs_add_installed_consumer_test(NAME [CONSUMER_ARGS -Dx=y...] options...):
# options as for obs_add_consumer_test; CONSUMER_ARGS go to the consumer.
function(obs_add_installed_consumer_test name)
  set(options PROJECT EXPECTED_OUTPUT EXPECT_CONFIGURE_FAILURE)
  cmake_parse_arguments(arg "" "${options}" "CONSUMER_ARGS" ${ARGN})
  set(forwarded "")
  foreach(option IN LISTS options)
    if(DEFINED arg_${option})
      list(APPEND forwarded ${option} "${arg_${option}}")
    endif()
  endforeach()
  set(prefix ${obs_consumer_root}/prefix-${name})
  list(JOIN arg_CONSUMER_ARGS "|" consumer_args)
  obs_add_consumer_test(${name} ${forwarded}
    -DINSTALL_FROM=${CMAKE_BINARY_DIR}
    -DINSTALL_PREFIX=${prefix}
    "-DCONSUMER_ARGS=-DCMAKE_PREFIX_PATH=${prefix}|-DOBS_EXPECTED_VERSION=${obs_VERSION}|${consumer_args}")
endfunction()

# The installed package must offer a component for every exporter target this
# build defines.
get_property(obs_exported_components GLOBAL PROPERTY OBS_COMPONENTS)
list(REMOVE_ITEM obs_exported_components exposition protobuf_wire process_metrics)
list(JOIN obs_exported_components "," obs_exported_components)
obs_add_installed_consumer_test(find_package
  CONSUMER_ARGS -DOBS_EXPECTED_COMPONENTS=${obs_exported_components})
# The core alone, where fmt, Boost and zlib cannot be found.
obs_add_installed_consumer_test(find_package_core_only
  PROJECT core_only EXPECTED_OUTPUT core_expected_output.txt
  CONSUMER_ARGS -DCMAKE_DISABLE_FIND_PACKAGE_fmt=ON -DCMAKE_DISABLE_FIND_PACKAGE_Boost=ON
                -DCMAKE_DISABLE_FIND_PACKAGE_ZLIB=ON)
# Components that cannot be had stop a REQUIRED search, saying why.
obs_add_installed_consumer_test(find_package_unknown_component
  PROJECT find_package_fails
  EXPECT_CONFIGURE_FAILURE "obs has no component \"nonesuch\"; it has: prometheus,"
  CONSUMER_ARGS -DOBS_COMPONENTS=prometheus,nonesuch)
obs_add_installed_consumer_test(find_package_component_without_dependency
  PROJECT find_package_fails
  EXPECT_CONFIGURE_FAILURE "obs component \"json\" needs fmt, which find_package.fmt CONFIG. did not find"
  CONSUMER_ARGS -DOBS_COMPONENTS=json -DCMAKE_DISABLE_FIND_PACKAGE_fmt=ON)
if(TARGET obs::protobuf)
  obs_add_installed_consumer_test(find_package_protobuf_without_protozero
    PROJECT find_package_fails
    EXPECT_CONFIGURE_FAILURE "obs component \"protobuf\" needs protozero, which find_package.protozero 1.6. did not find"
    CONSUMER_ARGS -DOBS_COMPONENTS=protobuf -DCMAKE_DISABLE_FIND_PACKAGE_protozero=ON)
endif()

# The README's install commands, verbatim, on a clean copy of this tree, then
# a find_package consumer of every component against what they installed
# (consumers/readme_install.sh). The commands name no compiler or build
# type, so one preset runs it (OBS_SCRIPT_TESTS).
if(OBS_SCRIPT_TESTS)
  add_test(NAME "consumer: readme_install"
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/consumers/readme_install.sh ${obs_SOURCE_DIR}
            ${obs_consumer_root}/readme_install ${CMAKE_GENERATOR} "${CMAKE_CXX_COMPILER_LAUNCHER}")
  set_tests_properties("consumer: readme_install" PROPERTIES TIMEOUT 1800 PROCESSORS 2)
endif()

obs_add_consumer_test(add_subdirectory
  -DCONSUMER_ARGS=-DOBS_SOURCE_DIR=${obs_SOURCE_DIR})
obs_add_consumer_test(fetch_content
  -DCONSUMER_ARGS=-DOBS_SOURCE_DIR=${obs_SOURCE_DIR})
