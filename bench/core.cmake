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

# The protobuf exposition's render cases, where that component is built.
if(TARGET obs::protobuf)
  target_link_libraries(obs_bench PRIVATE obs::protobuf)
  target_compile_definitions(obs_bench PRIVATE OBS_BENCH_PROTOBUF=1)
endif()

# What a remote_write push costs, where that component is built.
if(TARGET obs::remote_write)
  target_link_libraries(obs_bench PRIVATE obs::remote_write)
  target_compile_definitions(obs_bench PRIVATE OBS_BENCH_REMOTE_WRITE=1)
endif()

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

# obs::protobuf (protozero) against libprotobuf on the same messages, with a
# check that both write the same bytes: where protoc and libprotobuf exist.
if(TARGET obs::protobuf)
  find_package(Protobuf QUIET)
  if(Protobuf_FOUND AND Protobuf_PROTOC_EXECUTABLE)
    set(obs_metrics_proto ${PROJECT_SOURCE_DIR}/tests/protobuf/metrics.proto)
    add_custom_command(
      OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/metrics.pb.cc ${CMAKE_CURRENT_BINARY_DIR}/metrics.pb.h
      COMMAND ${Protobuf_PROTOC_EXECUTABLE} --cpp_out=${CMAKE_CURRENT_BINARY_DIR}
              -I${PROJECT_SOURCE_DIR}/tests/protobuf ${obs_metrics_proto}
      DEPENDS ${obs_metrics_proto}
      COMMENT "protoc --cpp_out metrics.proto")
    add_executable(obs_protobuf_encoders_bench protobuf_encoders_bench.cpp ${CMAKE_CURRENT_BINARY_DIR}/metrics.pb.cc)
    # protoc's generated code is not ours to hold to -Werror.
    set_source_files_properties(${CMAKE_CURRENT_BINARY_DIR}/metrics.pb.cc PROPERTIES COMPILE_OPTIONS -w)
    target_include_directories(obs_protobuf_encoders_bench PRIVATE ${CMAKE_CURRENT_BINARY_DIR}
                                                                   ${PROJECT_SOURCE_DIR}/tests)
    target_link_libraries(obs_protobuf_encoders_bench PRIVATE obs::obs obs::protobuf protobuf::libprotobuf
                                                              benchmark::benchmark)
    # g++ 12 at -O3 reports a false -Wrestrict inside std::string's operator+
    # in tests/exposition/cases.hpp (GCC bug 105329).
    target_compile_options(obs_protobuf_encoders_bench PRIVATE $<$<CXX_COMPILER_ID:GNU>:-Wno-restrict>)
  else()
    message(STATUS "obs_protobuf_encoders_bench: protoc or libprotobuf not found, not built")
  endif()
endif()
