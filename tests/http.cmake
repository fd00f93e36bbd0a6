# Tests of the HTTP endpoint (obs::http). Unit tests of each header, then
# integration tests over loopback, then a real Prometheus scraping a target.
if(NOT TARGET obs::http)
  return()
endif()

foreach(t negotiation auth gzip health handler server robustness self_metrics registry_source umbrella)
  obs_add_test(http_${t}_test SOURCES http_${t}_test.cpp LIBS obs::http)
  target_include_directories(http_${t}_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
endforeach()
