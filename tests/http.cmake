# Tests of the HTTP endpoint (obs::http). Unit tests of each header, then
# integration tests over loopback, then a real Prometheus scraping a target.
if(NOT TARGET obs::http)
  return()
endif()

# exporters/ found these, but imported targets are seen only below where they
# were found.
find_package(Boost 1.81 CONFIG REQUIRED COMPONENTS headers)
find_package(fmt CONFIG REQUIRED)
find_package(ZLIB REQUIRED)

# Boost and zlib too: the test client (http/client.hpp) and the handler's
# Beast types are the tests' own use of them, which obs::http, linking them
# privately, does not provide.
foreach(t options observer negotiation auth gzip health handler server robustness self_metrics
          registry_source umbrella)
  obs_add_test(http_${t}_test SOURCES http_${t}_test.cpp LIBS obs::http Boost::headers ZLIB::ZLIB)
  target_include_directories(http_${t}_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
endforeach()

# obs::http serving obs::protobuf: only where the protobuf component is built.
if(TARGET obs::protobuf)
  obs_add_test(http_protobuf_test SOURCES http_protobuf_test.cpp LIBS obs::http obs::protobuf Boost::headers ZLIB::ZLIB)
  target_include_directories(http_protobuf_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
endif()

# The server out of descriptors: the test execs http/accept_errors_target.cpp,
# which lowers its own RLIMIT_NOFILE, so the test process keeps its limit and
# shares no thread or sanitizer state with the server it starves.
obs_add_test(http_accept_errors_test SOURCES http_accept_errors_test.cpp LIBS obs::http Boost::headers ZLIB::ZLIB)
target_include_directories(http_accept_errors_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
add_executable(http_accept_errors_target http/accept_errors_target.cpp)
# UBSan's vptr check probes memory through a pipe, which fails while the
# process is out of descriptors, and so reports every polymorphic call there:
# under UBSan the server is compiled header-only into this target, without
# that check. Elsewhere the compiled library saves a header-only build.
if(CMAKE_CXX_FLAGS MATCHES "-fsanitize=[^ ]*undefined")
  target_link_libraries(http_accept_errors_target PRIVATE obs::http_header_only)
  target_compile_options(http_accept_errors_target PRIVATE -fno-sanitize=vptr)
else()
  target_link_libraries(http_accept_errors_target PRIVATE obs::http)
endif()
add_dependencies(http_accept_errors_test http_accept_errors_target)
target_compile_definitions(http_accept_errors_test PRIVATE
                           OBS_ACCEPT_ERRORS_TARGET="$<TARGET_FILE:http_accept_errors_target>")

# A result whose loss silently does nothing ([[nodiscard]]) must not compile
# under -Werror=unused-result. Compiled straight with the compiler, syntax only,
# like core.cmake's compile-fail tests; Boost, fmt and zlib are system headers,
# as their CMake packages make them for a consumer.
set(obs_http_syntax_flags -std=c++20 -fsyntax-only -Werror=unused-result -I${PROJECT_SOURCE_DIR}/include)
foreach(component exposition prometheus openmetrics json http)
  list(APPEND obs_http_syntax_flags -I${PROJECT_SOURCE_DIR}/exporters/${component}/include)
endforeach()
foreach(dep Boost::headers fmt::fmt-header-only ZLIB::ZLIB)
  get_target_property(dirs ${dep} INTERFACE_INCLUDE_DIRECTORIES)
  get_target_property(defs ${dep} INTERFACE_COMPILE_DEFINITIONS)
  if(dirs)
    foreach(d IN LISTS dirs)
      # As CMake does: naming the compiler's own directory again would break
      # the standard library's #include_next.
      if(NOT d IN_LIST CMAKE_CXX_IMPLICIT_INCLUDE_DIRECTORIES AND NOT "-isystem;${d}" IN_LIST obs_http_syntax_flags)
        list(APPEND obs_http_syntax_flags -isystem ${d})
      endif()
    endforeach()
  endif()
  if(defs)
    foreach(d IN LISTS defs)
      list(APPEND obs_http_syntax_flags -D${d})
    endforeach()
  endif()
endforeach()
function(obs_http_compile_fail_test name pattern)
  if(CMAKE_CXX_FLAGS MATCHES "-fsanitize")
    return()  # as core.cmake's compile-fail tests
  endif()
  add_test(NAME "compile_fail: http_${name}"
           COMMAND ${CMAKE_CXX_COMPILER} ${obs_http_syntax_flags}
                   ${CMAKE_CURRENT_SOURCE_DIR}/http/compile_fail_${name}.cpp)
  if(pattern)
    set_tests_properties("compile_fail: http_${name}" PROPERTIES PASS_REGULAR_EXPRESSION "${pattern}")
  endif()
endfunction()
obs_http_compile_fail_test(control "")
obs_http_compile_fail_test(discarded_serve "keep the returned server alive")
obs_http_compile_fail_test(discarded_auth "assign it to options::auth")

# obs/http.hpp as obs::http's users include it pulls in no Boost,
# zlib, fmt, registry or exporter header (see http/check_light_header.cmake).
# Strict warnings, as header_warnings.cmake uses: the file is a consumer's.
set(obs_http_light_flags ${obs_http_syntax_flags})
list(REMOVE_ITEM obs_http_light_flags -fsyntax-only)
list(APPEND obs_http_light_flags -DOBS_COMPILED_LIB
     -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Werror)
list(JOIN obs_http_light_flags "|" obs_http_light_flags_arg)
add_test(NAME "http_light_header: obs/http.hpp includes no Boost, zlib, fmt or registry"
         COMMAND ${CMAKE_COMMAND} -DCOMPILER=${CMAKE_CXX_COMPILER} "-DFLAGS=${obs_http_light_flags_arg}"
                 -DSOURCE=${CMAKE_CURRENT_SOURCE_DIR}/http/light_header.cpp
                 -P ${CMAKE_CURRENT_SOURCE_DIR}/http/check_light_header.cmake)

# A real Prometheus scrapes a target with known values and answers queries
# about them; promtool lints a live scrape.
add_executable(http_prom_target http/prom_target.cpp)
obs_link(http_prom_target obs::http)
find_program(OBS_PROMETHEUS prometheus)
find_program(OBS_PYTHON3 python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(OBS_PROMETHEUS AND OBS_PYTHON3)
  add_test(NAME http_prometheus_scrape
           COMMAND ${OBS_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/http/prometheus_scrape.py
                   $<TARGET_FILE:http_prom_target>)
  set_tests_properties(http_prometheus_scrape PROPERTIES TIMEOUT 60)
else()
  message(STATUS "obs: prometheus or /usr/bin/python3 missing; http_prometheus_scrape not registered")
endif()

# The same Prometheus with native histograms and exemplars on, reading a
# hand-built snapshot over protobuf and over OpenMetrics.
if(TARGET obs::protobuf)
  add_executable(http_prom_protobuf_target http/prom_protobuf_target.cpp)
  obs_link(http_prom_protobuf_target obs::http obs::protobuf)
  if(OBS_PROMETHEUS AND OBS_PYTHON3)
    add_test(NAME http_prometheus_protobuf_scrape
             COMMAND ${OBS_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/http/prometheus_protobuf_scrape.py
                     $<TARGET_FILE:http_prom_protobuf_target>)
    set_tests_properties(http_prometheus_protobuf_scrape PROPERTIES TIMEOUT 90)
    # A registry's native histogram, recorded and read back as quantiles.
    add_executable(http_native_quantiles_target http/native_quantiles_target.cpp)
    obs_link(http_native_quantiles_target obs::http obs::protobuf)
    add_test(NAME http_native_quantiles_scrape
             COMMAND ${OBS_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/http/native_quantiles_scrape.py
                     $<TARGET_FILE:http_native_quantiles_target>)
    set_tests_properties(http_native_quantiles_scrape PROPERTIES TIMEOUT 120)
  endif()
endif()
