# Property test of the registry and the exporters (property_exposition.cpp):
# seeded random recordings checked against a reference model, then their
# renderings checked by the consumers that check the exposition corpus
# (exporters.cmake), with the same scripts.
if(NOT TARGET obs::prometheus OR NOT TARGET obs::openmetrics OR NOT TARGET obs::json)
  return()
endif()

add_executable(property_exposition property_exposition.cpp)
obs_link(property_exposition obs::prometheus obs::openmetrics obs::json)

set(obs_property_dir ${CMAKE_CURRENT_BINARY_DIR}/property_exposition_out)
set(obs_property_checkers ${CMAKE_CURRENT_SOURCE_DIR}/exposition)
# Writes the renderings, and fails when a snapshot or a registration differs
# from the model (the seed to rerun is in its output).
add_test(NAME property_exposition_model COMMAND property_exposition ${obs_property_dir})
set_tests_properties(property_exposition_model PROPERTIES FIXTURES_SETUP property_exposition TIMEOUT 300)

find_program(OBS_PROMTOOL promtool)
if(OBS_PROMTOOL)
  add_test(NAME property_exposition_promtool_check_metrics
           COMMAND sh ${obs_property_checkers}/check_promtool.sh ${OBS_PROMTOOL} ${obs_property_dir})
  set_tests_properties(property_exposition_promtool_check_metrics
                       PROPERTIES FIXTURES_REQUIRED property_exposition)
else()
  message(STATUS "promtool not found: skipping the promtool property check")
endif()

set(OBS_PYTHON3 /usr/bin/python3 CACHE FILEPATH
    "Python with prometheus_client, for the OpenMetrics parser checks")
execute_process(COMMAND ${OBS_PYTHON3} -c "import prometheus_client.openmetrics.parser"
                RESULT_VARIABLE obs_no_om_parser OUTPUT_QUIET ERROR_QUIET)
if(obs_no_om_parser EQUAL 0)
  add_test(NAME property_exposition_openmetrics_parse
           COMMAND ${OBS_PYTHON3} ${obs_property_checkers}/check_openmetrics.py --parse-only ${obs_property_dir})
  set_tests_properties(property_exposition_openmetrics_parse PROPERTIES FIXTURES_REQUIRED property_exposition)
else()
  message(STATUS "${OBS_PYTHON3} lacks prometheus_client: skipping the OpenMetrics property check")
endif()

if(EXISTS ${OBS_PYTHON3})
  add_test(NAME property_exposition_json_parse
           COMMAND ${OBS_PYTHON3} ${obs_property_checkers}/check_json.py ${obs_property_dir})
  set_tests_properties(property_exposition_json_parse PROPERTIES FIXTURES_REQUIRED property_exposition)
endif()
