# Tests of the monitoring checkers (check_queries.py, check_dashboard.py),
# the two against a live `obs_demo --serve`. Included from
# examples/common/CMakeLists.txt. A missing prometheus or python3 fails the
# tests that need it, naming the variable, rather than dropping them.
if(OBS_BUILD_TESTS)
  find_program(OBS_PYTHON3 python3)
  find_program(OBS_PROMETHEUS prometheus)
  set(monitoring_dir ${CMAKE_CURRENT_LIST_DIR})
  set(run_checker ${OBS_PYTHON3} ${monitoring_dir}/tests/run_checker.py $<TARGET_FILE:obs_demo>)

  add_test(NAME monitoring.check_dashboard
           COMMAND ${OBS_PYTHON3} ${monitoring_dir}/tests/check_dashboard_test.py)
  add_test(NAME monitoring.check_queries_unit
           COMMAND ${OBS_PYTHON3} ${monitoring_dir}/tests/check_queries_unit_test.py)
  # Every expression of a dashboard and a rule file over obs_demo's metrics
  # runs and finds data (the quiet alert's selectors do).
  add_test(NAME monitoring.check_queries
           COMMAND ${run_checker} -- --prometheus ${OBS_PROMETHEUS}
                   --dashboard ${monitoring_dir}/tests/demo.json --rules ${monitoring_dir}/tests/demo.rules.yml
                   --require-data --allow-empty-alerts)
  # Panels with a syntax error, a misspelt metric, a misspelt label inside an
  # expression that is empty by design, and a misspelt variable, and rules
  # with a misspelt metric in a quiet alert and a misspelt label, each fail,
  # and only they.
  add_test(NAME monitoring.check_queries_detects_typo
           COMMAND ${run_checker} --expect-failures "syntax error" "misspelt metric" "misspelt label"
                   "misspelt variable" "alert DemoMisspeltMetric" "record demo:misspelt_label"
                   -- --prometheus ${OBS_PROMETHEUS} --dashboard ${monitoring_dir}/tests/demo_typo.json
                   --rules ${monitoring_dir}/tests/demo_typo.rules.yml
                   --require-data --allow-empty "> 1e9" --allow-empty-alerts)
  # No Prometheus or directory outlives a run: target down, SIGINT, SIGTERM,
  # SIGKILL.
  add_test(NAME monitoring.check_queries_cleanup
           COMMAND ${OBS_PYTHON3} ${monitoring_dir}/tests/cleanup_test.py ${OBS_PROMETHEUS})
  set_tests_properties(monitoring.check_dashboard monitoring.check_queries_unit PROPERTIES TIMEOUT 60)
  set_tests_properties(monitoring.check_queries monitoring.check_queries_detects_typo
                       monitoring.check_queries_cleanup PROPERTIES TIMEOUT 120)
endif()
