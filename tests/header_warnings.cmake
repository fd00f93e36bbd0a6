# Strict-warnings check of the public headers: each header is included, the
# way a consumer includes it (-I, not -isystem), by a one-line translation
# unit compiled with the flags below, once with this build's compiler and once
# with the other of g++ / clang++ when it is installed. Third-party headers
# come in as -isystem, as their imported targets make them. Broken fixtures
# (tests/header_warnings/broken) must fail, which proves the check is live.
# Sanitizer presets skip it: it does not use a build's flags, so there it
# would only repeat the default preset's run.
if(CMAKE_CXX_FLAGS MATCHES "-fsanitize")
  return()
endif()

# In compiled mode (OBS_COMPILED_LIB) each header is compiled alone and so is
# each -inl.hpp, whose definitions header-only mode would bring along: every
# line of obs is seen once, and a detail header need not drag in the
# definitions of what it only declares.
set(obs_header_warning_flags
  -std=c++20 -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Werror -DOBS_COMPILED_LIB)

if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  set(obs_cxx_name gcc)
  set(obs_other_cxx_name clang)
  set(obs_other_cxx_program clang++)
elseif(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  set(obs_cxx_name clang)
  set(obs_other_cxx_name gcc)
  set(obs_other_cxx_program g++)
else()
  message(STATUS "header_warnings: needs g++ or clang++, skipped for ${CMAKE_CXX_COMPILER_ID}")
  return()
endif()
# -DOBS_HEADER_WARNINGS_OTHER_CXX=OFF skips the second compiler.
find_program(OBS_HEADER_WARNINGS_OTHER_CXX NAMES ${obs_other_cxx_program}
             DOC "Second compiler for the header_warnings tests (OFF: none)")

# The widest header-only exporter target carries the definitions the public
# headers need, and (unlike a static library, which links its dependencies
# privately) their include directories; their include trees are the roots
# below.
if(TARGET obs_http)
  set(obs_header_usage obs_http_header_only)
else()
  set(obs_header_usage obs_json_header_only)
endif()
# obs::protobuf and obs::remote_write are beside obs::http, not under it:
# all of them, with protozero's and snappy's include directories, wherever
# they are installed.
add_library(obs_header_warnings_usage INTERFACE)
target_link_libraries(obs_header_warnings_usage INTERFACE ${obs_header_usage})
foreach(beside obs_protobuf_header_only obs_remote_write_header_only)
  if(TARGET ${beside})
    target_link_libraries(obs_header_warnings_usage INTERFACE ${beside})
  endif()
endforeach()
set(obs_header_usage obs_header_warnings_usage)
set(obs_header_exclude "")
list(JOIN obs_header_warning_flags "|" obs_header_flags_arg)
list(JOIN CMAKE_CXX_IMPLICIT_INCLUDE_DIRECTORIES "|" obs_implicit_dirs_arg)
cmake_host_system_information(RESULT obs_header_jobs QUERY NUMBER_OF_LOGICAL_CORES)
if(obs_header_jobs GREATER 4)
  set(obs_header_jobs 4)
endif()

# obs_add_header_warnings_test(NAME COMPILER path COMPILER_NAME name
#                              ROOTS dir... [EXPECT_FAILURE])
function(obs_add_header_warnings_test name)
  cmake_parse_arguments(arg "EXPECT_FAILURE" "COMPILER;COMPILER_NAME" "ROOTS" ${ARGN})
  list(JOIN arg_ROOTS "|" roots)
  if(arg_EXPECT_FAILURE)
    set(work_dir ${CMAKE_CURRENT_BINARY_DIR}/header_warnings/${arg_COMPILER_NAME}-broken)
    set(exclude "")
  else()
    set(work_dir ${CMAKE_CURRENT_BINARY_DIR}/header_warnings/${arg_COMPILER_NAME})
    set(exclude "${obs_header_exclude}")
  endif()
  set(usage ${obs_header_usage})
  add_test(NAME "${name}"
    COMMAND ${CMAKE_COMMAND}
      -DCOMPILER=${arg_COMPILER}
      -DNAME=${arg_COMPILER_NAME}
      -DHEADER_ROOTS=${roots}
      "-DEXCLUDE=${exclude}"
      "-DINCLUDE_DIRS=$<JOIN:$<TARGET_PROPERTY:${usage},INTERFACE_INCLUDE_DIRECTORIES>,|>"
      "-DIMPLICIT_DIRS=${obs_implicit_dirs_arg}"
      "-DDEFINITIONS=$<JOIN:$<TARGET_PROPERTY:${usage},INTERFACE_COMPILE_DEFINITIONS>,|>"
      "-DFLAGS=${obs_header_flags_arg}"
      -DWORK_DIR=${work_dir}
      -DJOBS=${obs_header_jobs}
      -DEXPECT_FAILURE=${arg_EXPECT_FAILURE}
      -P ${CMAKE_CURRENT_SOURCE_DIR}/header_warnings/check_headers.cmake)
  set_tests_properties("${name}" PROPERTIES TIMEOUT 900 PROCESSORS ${obs_header_jobs})
endfunction()

set(obs_public_header_roots ${obs_SOURCE_DIR}/include)
get_property(obs_all_components GLOBAL PROPERTY OBS_COMPONENTS)
foreach(component IN LISTS obs_all_components)
  get_property(dir GLOBAL PROPERTY OBS_COMPONENT_${component}_INCLUDE_DIR)
  list(APPEND obs_public_header_roots ${dir})
endforeach()
set(obs_broken_header_root ${CMAKE_CURRENT_SOURCE_DIR}/header_warnings/broken)
set(obs_header_compilers "${CMAKE_CXX_COMPILER}|${obs_cxx_name}")
if(OBS_HEADER_WARNINGS_OTHER_CXX)
  list(APPEND obs_header_compilers "${OBS_HEADER_WARNINGS_OTHER_CXX}|${obs_other_cxx_name}")
else()
  message(STATUS "no second compiler: skipping its header_warnings tests")
endif()
foreach(entry IN LISTS obs_header_compilers)
  string(REPLACE "|" ";" entry "${entry}")
  list(GET entry 0 compiler)
  list(GET entry 1 compiler_name)
  obs_add_header_warnings_test("header_warnings: ${compiler_name}"
    COMPILER ${compiler} COMPILER_NAME ${compiler_name} ROOTS ${obs_public_header_roots})
  obs_add_header_warnings_test("header_warnings: ${compiler_name} rejects broken"
    COMPILER ${compiler} COMPILER_NAME ${compiler_name} ROOTS ${obs_broken_header_root}
    EXPECT_FAILURE)
endforeach()
