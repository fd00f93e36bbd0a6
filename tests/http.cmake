# Tests of the HTTP endpoint (obs::http). Unit tests of each header, then
# integration tests over loopback, then a real Prometheus scraping a target.
if(NOT TARGET obs::http)
  return()
endif()

foreach(t options observer negotiation auth gzip health handler server robustness self_metrics
          registry_source umbrella)
  obs_add_test(http_${t}_test SOURCES http_${t}_test.cpp LIBS obs::http)
  target_include_directories(http_${t}_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
endforeach()

# A real Prometheus scrapes a target with known values and answers queries
# about them; promtool lints a live scrape.
add_executable(http_prom_target http/prom_target.cpp)
target_link_libraries(http_prom_target PRIVATE obs::http)
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
