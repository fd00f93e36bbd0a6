# HTTP endpoint benchmark: obs's server and prometheus-cpp's Exposer serving
# the same data, driven by wrk from bench/http/run.
if(NOT TARGET obs::http)
  return()
endif()
add_executable(http_bench_obs_server http/obs_server.cpp)
target_link_libraries(http_bench_obs_server PRIVATE obs::http)

find_package(prometheus-cpp CONFIG QUIET)
if(prometheus-cpp_FOUND)
  add_executable(http_bench_prometheus_cpp_server http/prometheus_cpp_server.cpp)
  target_link_libraries(http_bench_prometheus_cpp_server PRIVATE prometheus-cpp::pull prometheus-cpp::core)
else()
  message(STATUS "http bench: prometheus-cpp not found, only the obs server is built")
endif()
