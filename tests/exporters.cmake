# Exporter tests: golden renderings of hand-built snapshots, and checks of
# the same renderings by the real consumers (promtool, the Python
# OpenMetrics parser, Python's json module).

obs_add_test(prometheus_test SOURCES prometheus_test.cpp LIBS obs_test_counting_new obs::prometheus)
obs_add_test(openmetrics_test SOURCES openmetrics_test.cpp LIBS obs_test_counting_new obs::openmetrics)
obs_add_test(json_test SOURCES json_test.cpp LIBS obs_test_counting_new obs::json)
if(OBS_BUILD_REMOTE_WRITE)
  obs_add_test(remote_write_test SOURCES remote_write_test.cpp LIBS obs::remote_write protozero::protozero Snappy::snappy)
  # The receivers Debian ships, started by the test itself, and faults.
  add_executable(remote_write_push_target remote_write/push_target.cpp)
  obs_link(remote_write_push_target obs::remote_write obs::prometheus)
  find_program(OBS_PROMETHEUS_SERVER prometheus)
  find_program(OBS_VICTORIA_METRICS victoria-metrics)
  find_program(OBS_PYTHON3_RW python3)
  if(OBS_PROMETHEUS_SERVER AND OBS_VICTORIA_METRICS AND OBS_PYTHON3_RW)
    add_test(NAME remote_write_receivers
             COMMAND ${OBS_PYTHON3_RW} ${CMAKE_CURRENT_SOURCE_DIR}/remote_write/receivers_test.py
                     $<TARGET_FILE:remote_write_push_target>)
    # About 75 s, mostly waiting on receivers and outages: started first
    # (ctest runs the costliest first), it overlaps the short tests instead of
    # running alone at the end.
    set_tests_properties(remote_write_receivers PROPERTIES TIMEOUT 300 COST 75)
    if(CMAKE_CXX_FLAGS MATCHES "-fsanitize")
      set_tests_properties(remote_write_receivers PROPERTIES ENVIRONMENT OBS_SANITIZED=1)
    endif()
  endif()
endif()
# Written against snapshot.hpp alone: a new format needs nothing else from obs.
obs_add_test(custom_exporter_test SOURCES custom_exporter_test.cpp)

# The three public headers as users of the compiled libraries include them
# (OBS_COMPILED_LIB), whatever OBS_TEST_LINKAGE says: they must not pull in
# fmt, and what they declare must link against the static libraries. It links
# them by their old names, obs::*_compiled, which must keep working.
add_executable(exporters_compiled_test exporters_compiled_test.cpp)
target_link_libraries(exporters_compiled_test PRIVATE obs_test_main obs::prometheus_compiled
                      obs::openmetrics_compiled obs::json_compiled)
catch_discover_tests(exporters_compiled_test TEST_PREFIX "exporters_compiled_test: "
                     PROPERTIES TIMEOUT 300)

# The corpus: every golden case rendered in every format, written to files.
add_executable(exposition_corpus exposition_corpus.cpp)
obs_link(exposition_corpus obs::prometheus obs::openmetrics obs::json)

set(obs_corpus_dir ${CMAKE_CURRENT_BINARY_DIR}/exposition_corpus_out)
set(obs_exposition_dir ${CMAKE_CURRENT_SOURCE_DIR}/exposition)
add_test(NAME exposition_corpus_write
         COMMAND exposition_corpus ${obs_corpus_dir})
set_tests_properties(exposition_corpus_write PROPERTIES FIXTURES_SETUP exposition_corpus)

# Each checker runs on the corpus, and once on deliberately broken inputs
# (tests/exposition/broken) that it must reject, which proves it is live.
find_program(OBS_PROMTOOL promtool)
if(OBS_PROMTOOL)
  add_test(NAME exposition_promtool_check_metrics
           COMMAND sh ${obs_exposition_dir}/check_promtool.sh ${OBS_PROMTOOL} ${obs_corpus_dir})
  set_tests_properties(exposition_promtool_check_metrics
                       PROPERTIES FIXTURES_REQUIRED exposition_corpus)
  file(GLOB obs_broken_prom ${obs_exposition_dir}/broken/*.prom)
  add_test(NAME exposition_promtool_rejects_broken
           COMMAND sh ${obs_exposition_dir}/check_promtool.sh ${OBS_PROMTOOL} --expect-reject
                   ${obs_broken_prom})
else()
  message(STATUS "promtool not found: skipping the promtool exposition checks")
endif()

# Debian's python3-prometheus-client lives with the system interpreter.
set(OBS_PYTHON3 /usr/bin/python3 CACHE FILEPATH
    "Python with prometheus_client, for the OpenMetrics parser checks")
execute_process(COMMAND ${OBS_PYTHON3} -c "import prometheus_client.openmetrics.parser"
                RESULT_VARIABLE obs_no_om_parser OUTPUT_QUIET ERROR_QUIET)
if(obs_no_om_parser EQUAL 0)
  add_test(NAME exposition_openmetrics_parse
           COMMAND ${OBS_PYTHON3} ${obs_exposition_dir}/check_openmetrics.py ${obs_corpus_dir})
  set_tests_properties(exposition_openmetrics_parse PROPERTIES FIXTURES_REQUIRED exposition_corpus)
  file(GLOB obs_broken_om ${obs_exposition_dir}/broken/*.om.txt)
  add_test(NAME exposition_openmetrics_rejects_broken
           COMMAND ${OBS_PYTHON3} ${obs_exposition_dir}/check_openmetrics.py --expect-reject
                   ${obs_broken_om})
else()
  message(STATUS "${OBS_PYTHON3} lacks prometheus_client: skipping the OpenMetrics parser checks")
endif()

if(EXISTS ${OBS_PYTHON3})
  add_test(NAME exposition_json_parse
           COMMAND ${OBS_PYTHON3} ${obs_exposition_dir}/check_json.py ${obs_corpus_dir})
  set_tests_properties(exposition_json_parse PROPERTIES FIXTURES_REQUIRED exposition_corpus)
  file(GLOB obs_broken_json ${obs_exposition_dir}/broken/*.json)
  add_test(NAME exposition_json_rejects_broken
           COMMAND ${OBS_PYTHON3} ${obs_exposition_dir}/check_json.py --expect-reject
                   ${obs_broken_json})
endif()

# The native histogram bucket encoder obs::protobuf and obs::remote_write share.
if(TARGET obs::protobuf_wire)
  obs_add_test(native_buckets_test SOURCES native_buckets_test.cpp LIBS obs::protobuf_wire)
endif()

# The protobuf exposition: golden bytes (protoc's encoding of hand-written
# text protos), then the same goldens and the whole corpus decoded by Python's
# protobuf against the vendored metrics.proto (client_model 0.3.0).
if(TARGET obs::protobuf)
  obs_add_test(protobuf_test SOURCES protobuf_test.cpp LIBS obs::protobuf)
  target_link_libraries(protobuf_test PRIVATE protozero::protozero)
  # The public header of the compiled library brings no protozero.
  add_executable(protobuf_compiled_test protobuf_compiled_test.cpp)
  target_link_libraries(protobuf_compiled_test PRIVATE obs_test_main obs::protobuf_compiled)
  catch_discover_tests(protobuf_compiled_test TEST_PREFIX "protobuf_compiled_test: " PROPERTIES TIMEOUT 300)

  add_executable(protobuf_corpus protobuf_corpus.cpp)
  obs_link(protobuf_corpus obs::protobuf obs::openmetrics)
  set(obs_protobuf_corpus_dir ${CMAKE_CURRENT_BINARY_DIR}/protobuf_corpus_out)
  add_test(NAME protobuf_corpus_write COMMAND protobuf_corpus ${obs_protobuf_corpus_dir})
  set_tests_properties(protobuf_corpus_write PROPERTIES FIXTURES_SETUP protobuf_corpus)

  find_program(OBS_PROTOC protoc)
  execute_process(COMMAND ${OBS_PYTHON3} -c "import google.protobuf"
                  RESULT_VARIABLE obs_no_python_protobuf OUTPUT_QUIET ERROR_QUIET)
  if(OBS_PROTOC AND obs_no_python_protobuf EQUAL 0)
    add_test(NAME protobuf_python_decode
             COMMAND ${OBS_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/protobuf/check_protobuf.py
                     --protoc ${OBS_PROTOC} ${obs_protobuf_corpus_dir})
    set_tests_properties(protobuf_python_decode PROPERTIES FIXTURES_REQUIRED protobuf_corpus)
  else()
    message(STATUS "protoc or ${OBS_PYTHON3}'s google.protobuf missing: skipping protobuf_python_decode "
                   "(Debian protobuf-compiler, python3-protobuf)")
  endif()
endif()

# The protobuf property test (protobuf_property.cpp): random snapshots of
# every type, protobuf decoded and compared with the OpenMetrics text; a few
# of them then go through the Python decoder and parser as well.
if(TARGET obs::protobuf)
  add_executable(protobuf_property protobuf_property.cpp)
  obs_link(protobuf_property obs::protobuf obs::openmetrics)
  target_link_libraries(protobuf_property PRIVATE protozero::protozero)
  set(obs_protobuf_property_dir ${CMAKE_CURRENT_BINARY_DIR}/protobuf_property_out)
  add_test(NAME protobuf_property COMMAND protobuf_property ${obs_protobuf_property_dir})
  set_tests_properties(protobuf_property PROPERTIES FIXTURES_SETUP protobuf_property TIMEOUT 300)
  if(OBS_PROTOC AND obs_no_python_protobuf EQUAL 0)
    add_test(NAME protobuf_property_python_decode
             COMMAND ${OBS_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/protobuf/check_protobuf.py --no-goldens
                     --protoc ${OBS_PROTOC} ${obs_protobuf_property_dir})
    set_tests_properties(protobuf_property_python_decode PROPERTIES FIXTURES_REQUIRED protobuf_property)
  endif()
endif()
