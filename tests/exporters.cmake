# Exporter tests: golden renderings of hand-built snapshots, and checks of
# the same renderings by the real consumers (promtool, the Python
# OpenMetrics parser, Python's json module).

obs_add_test(prometheus_test SOURCES prometheus_test.cpp LIBS obs_test_counting_new obs::prometheus)
obs_add_test(openmetrics_test SOURCES openmetrics_test.cpp LIBS obs_test_counting_new obs::openmetrics)
obs_add_test(json_test SOURCES json_test.cpp LIBS obs_test_counting_new obs::json)
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
