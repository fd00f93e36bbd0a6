# obs_bench: the recording and render benchmarks in one binary, with
# prometheus-cpp (when installed) and hardware baselines measured alongside.
# prometheus-cpp is linked only here; without it the obs-only cases still build.
find_package(prometheus-cpp CONFIG QUIET)

add_executable(obs_bench
  ${PROJECT_SOURCE_DIR}/tests/support/counting_new.cpp
  recording_bench.cpp
  render_bench.cpp
  experiment_bench.cpp)
target_include_directories(obs_bench PRIVATE ${PROJECT_SOURCE_DIR}/tests)
target_link_libraries(obs_bench PRIVATE
  obs::obs obs::prometheus obs::openmetrics obs::json benchmark::benchmark_main)

if(prometheus-cpp_FOUND)
  target_link_libraries(obs_bench PRIVATE prometheus-cpp::core)
  target_compile_definitions(obs_bench PRIVATE OBS_BENCH_PROMETHEUS_CPP=1)
else()
  message(STATUS "obs_bench: prometheus-cpp not found, building the obs-only cases")
  target_compile_definitions(obs_bench PRIVATE OBS_BENCH_PROMETHEUS_CPP=0)
endif()

# obs_memory_rss: resident memory per series, one case per process
# (bench/memory_rss runs it at several slot counts).
add_executable(obs_memory_rss memory_rss.cpp)
target_include_directories(obs_memory_rss PRIVATE ${PROJECT_SOURCE_DIR}/tests)
target_link_libraries(obs_memory_rss PRIVATE obs::obs)
if(prometheus-cpp_FOUND)
  target_link_libraries(obs_memory_rss PRIVATE prometheus-cpp::core)
  target_compile_definitions(obs_memory_rss PRIVATE OBS_BENCH_PROMETHEUS_CPP=1)
else()
  target_compile_definitions(obs_memory_rss PRIVATE OBS_BENCH_PROMETHEUS_CPP=0)
endif()

# obs_record_instructions: instructions per record under callgrind
# (bench/record_instructions runs it).
add_executable(obs_record_instructions record_instructions.cpp)
target_link_libraries(obs_record_instructions PRIVATE obs::obs)
if(prometheus-cpp_FOUND)
  target_link_libraries(obs_record_instructions PRIVATE prometheus-cpp::core)
  target_compile_definitions(obs_record_instructions PRIVATE OBS_BENCH_PROMETHEUS_CPP=1)
else()
  target_compile_definitions(obs_record_instructions PRIVATE OBS_BENCH_PROMETHEUS_CPP=0)
endif()
