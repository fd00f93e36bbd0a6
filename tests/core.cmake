# Core tests: tests/X_test.cpp tests include/obs/X.hpp.
foreach(name registry counter gauge histogram buckets family snapshot names metrics disabled handles)
  obs_add_test(${name}_test SOURCES ${name}_test.cpp)
endforeach()
obs_add_test(concurrency_test SOURCES concurrency_test.cpp)
obs_add_test(series_index_test SOURCES series_index_test.cpp)
# With two slots, most of the test's threads share the one extra slot.
obs_add_test(gauge_shared_slot_test SOURCES gauge_test.cpp ENVIRONMENT OBS_THREAD_SLOTS=2)
# At the slot count of a 64-core machine, where memory committed for slots
# that never record would show.
obs_add_test(storage_test SOURCES storage_test.cpp ENVIRONMENT OBS_THREAD_SLOTS=256)
obs_add_test(alloc_test SOURCES alloc_test.cpp
             LIBS obs_test_counting_new obs::prometheus obs::openmetrics obs::json)
obs_add_test(native_histogram_test SOURCES native_histogram_test.cpp LIBS obs_test_counting_new)
obs_add_test(exemplar_test SOURCES exemplar_test.cpp LIBS obs_test_counting_new)
obs_add_test(odr_test SOURCES odr_a.cpp odr_b.cpp)

# Misuse of the macros must not compile, with a message that names the misuse.
# Compiled straight with the compiler (syntax only) so ctest can run them in parallel.
# Sanitizer presets skip them: they do not use a build's flags, so there they
# would only repeat the same compiler's run in the default or clang preset.
function(obs_compile_fail_test name pattern)
  if(CMAKE_CXX_FLAGS MATCHES "-fsanitize")
    return()
  endif()
  set(src ${CMAKE_CURRENT_SOURCE_DIR}/compile_fail/${name}.cpp)
  add_test(NAME "compile_fail: ${name}"
           COMMAND ${CMAKE_CXX_COMPILER} -std=c++20 -fsyntax-only -I${PROJECT_SOURCE_DIR}/include ${src})
  if(pattern)
    set_tests_properties("compile_fail: ${name}" PROPERTIES PASS_REGULAR_EXPRESSION "${pattern}")
  endif()
endfunction()
obs_compile_fail_test(control "")
obs_compile_fail_test(runtime_label_value "captur")
obs_compile_fail_test(invalid_metric_name "OBS_error_invalid_metric_name")
obs_compile_fail_test(invalid_label_name "OBS_error_invalid_label_name")
obs_compile_fail_test(reserved_label_name "OBS_error_reserved_label_name")
obs_compile_fail_test(odd_label_arguments "labels come in key, value pairs")
obs_compile_fail_test(disabled_still_type_checks "string_view")
obs_compile_fail_test(duplicate_label_name "OBS_error_duplicate_label_name")
obs_compile_fail_test(family_value_count "one value per label key")
obs_compile_fail_test(kept_ref_records "deleted")

# What an instrumented file compiles: the facade and the handles include
# neither the registry nor the standard headers it needs (in compiled mode;
# header-only mode includes the definitions by design). A broken header
# that includes <map> must fail, which proves the check is live.
set(obs_facade_forbidden
  "map|functional|chrono|algorithm|thread|mutex|unordered_map|memory|vector|obs/registry.hpp|obs/detail/registry_core.hpp|obs/detail/family_state.hpp|obs/snapshot.hpp")
function(obs_facade_include_test header include_dir)
  add_test(NAME "facade_includes: ${header}"
    COMMAND ${CMAKE_COMMAND} -DCOMPILER=${CMAKE_CXX_COMPILER} -DHEADER=${header} -DINCLUDE_DIR=${include_dir}
            -DFORBIDDEN=${obs_facade_forbidden} -DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}
            -P ${CMAKE_CURRENT_SOURCE_DIR}/facade_includes/check_includes.cmake)
endfunction()
foreach(header obs/metrics.hpp obs/handles.hpp obs/counter.hpp obs/gauge.hpp obs/histogram.hpp obs/family.hpp)
  obs_facade_include_test(${header} ${PROJECT_SOURCE_DIR}/include)
endforeach()
obs_facade_include_test(obs/heavy_facade.hpp ${CMAKE_CURRENT_SOURCE_DIR}/facade_includes/broken)
set_tests_properties("facade_includes: obs/heavy_facade.hpp" PROPERTIES WILL_FAIL TRUE)
