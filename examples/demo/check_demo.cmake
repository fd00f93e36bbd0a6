# Runs obs_demo and checks what it prints, for ctest:
#   cmake -DDEMO=<obs_demo> -DCHECK=output -DVERSION=<x.y.z> -P check_demo.cmake
#   cmake -DDEMO=<obs_demo> -DCHECK=json -P check_demo.cmake
#   cmake -DDEMO=<obs_demo> -DCHECK=promtool -DPROMTOOL=<promtool> -P check_demo.cmake

cmake_minimum_required(VERSION 3.25)

function(run_demo out)
  execute_process(COMMAND ${DEMO} ${ARGN} OUTPUT_VARIABLE text ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "obs_demo ${ARGN} exited with ${rc}: ${err}")
  endif()
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

if(CHECK STREQUAL "output")
  run_demo(text)
  # One line per seed document, plus process, build-info and the JSON part;
  # values vary with timing, so most lines are checked up to the value.
  set(expected
    "# HELP pg_doorman_auth_query_cache_hits_total Number of auth_query cache hits\n"
    "# TYPE pg_doorman_auth_query_cache_hits_total counter\n"
    "\npg_doorman_auth_query_cache_hits_total{database=\"mydb\"} "
    "\npg_doorman_auth_query_dynamic_pools{database=\"otherdb\"} "
    "\ndb_pool_connections{service=\"auth-service\",state=\"max\"} 20\n"
    "\ndb_pool_connections{service=\"billing-service\",state=\"idle\"} "
    "\ndb_pool_acquire_duration_seconds_bucket{service=\"auth-service\",le=\"5\"} "
    "\ndb_pool_connection_errors_total{service=\"auth-service\",error_type=\"timeout\"} "
    "# TYPE pgcache_query_duration_seconds summary\n"
    "\npgcache_query_duration_seconds{source=\"cache\",quantile=\"0.99\"} "
    "\npgcache_queries_total{status=\"cache_hit\"} "
    "\npgcache_bytes_total{direction=\"origin_in\"} "
    "\nhttp_requests_total{method=\"GET\",path=\"/api/organizations\",status=\"200\"} "
    "\nredis_command_duration_seconds_bucket{command=\"GET\",le=\"0.001\"} "
    "\nchannel_queue_depth{type=\"outbound\"} 0\n"
    "\nws_messages_sent_total "
    "\nobs_demo_build_info{version=\"${VERSION}\"} 1\n"
    "# TYPE process_cpu_seconds_total counter\n"
    "\nprocess_open_fds "
    "\n{\"metrics\":[")
  foreach(line IN LISTS expected)
    string(FIND "${text}" "${line}" at)
    if(at EQUAL -1)
      message(FATAL_ERROR "obs_demo's output lacks '${line}':\n${text}")
    endif()
  endforeach()

elseif(CHECK STREQUAL "json")
  run_demo(text --format json)
  string(JSON count ERROR_VARIABLE err LENGTH "${text}" metrics)
  if(err)
    message(FATAL_ERROR "obs_demo --format json is not the expected JSON (${err}):\n${text}")
  endif()
  # name -> type of a few families, one per seed document.
  set(expected
    pg_doorman_auth_query_cache_misses_total=counter db_pool_connections=gauge
    db_pool_acquire_duration_seconds=histogram pgcache_query_duration_seconds=summary
    redis_command_duration_seconds=histogram ws_messages_sent_total=counter
    obs_demo_build_info=info process_resident_memory_bytes=gauge)
  math(EXPR last "${count} - 1")
  set(found "")
  foreach(i RANGE ${last})
    string(JSON name GET "${text}" metrics ${i} name)
    string(JSON type GET "${text}" metrics ${i} type)
    list(APPEND found "${name}=${type}")
  endforeach()
  foreach(pair IN LISTS expected)
    if(NOT pair IN_LIST found)
      message(FATAL_ERROR "obs_demo's JSON lacks ${pair}; it has: ${found}")
    endif()
  endforeach()

elseif(CHECK STREQUAL "promtool")
  # promtool reads stdin: go through a file so a failing demo is not masked
  # by a pipe.
  run_demo(text --format prometheus)
  set(file ${CMAKE_CURRENT_BINARY_DIR}/obs_demo_metrics.prom)
  file(WRITE ${file} "${text}")
  execute_process(COMMAND ${PROMTOOL} check metrics INPUT_FILE ${file}
                  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0 OR NOT "${out}${err}" STREQUAL "")
    message(FATAL_ERROR "promtool check metrics failed (${rc}):\n${out}${err}")
  endif()

else()
  message(FATAL_ERROR "unknown CHECK '${CHECK}'")
endif()
