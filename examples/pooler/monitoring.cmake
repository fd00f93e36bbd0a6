# Tests of the pooler's monitoring files: prometheus/alerts (rules and their
# promtool unit tests) and grafana/dashboard.json. Included by
# examples/pooler/CMakeLists.txt. A missing promtool, prometheus or python3
# fails the tests that need it, naming the variable, rather than dropping
# them.
if(OBS_BUILD_TESTS)
  find_program(OBS_PROMTOOL promtool)
  find_program(OBS_PYTHON3 python3)
  set(pooler_alerts ${CMAKE_CURRENT_LIST_DIR}/prometheus/alerts)
  set(pooler_dashboard ${CMAKE_CURRENT_LIST_DIR}/grafana/dashboard.json)
  set(pooler_monitoring_tools ${CMAKE_CURRENT_LIST_DIR}/../common/monitoring)

  # The rules load, and each alert fires when it should and not otherwise.
  add_test(NAME pooler.alert_rules
           COMMAND sh -c "\"$0\" check rules \"$1/database.rules.yml\" && \"$0\" test rules \"$1/database.rules.test.yml\""
                   ${OBS_PROMTOOL} ${pooler_alerts})
  # Grafana can import the dashboard: uid, schemaVersion, datasource variable, refIds.
  add_test(NAME pooler.dashboard_lint
           COMMAND ${OBS_PYTHON3} ${pooler_monitoring_tools}/check_dashboard.py ${pooler_dashboard})
  # Every dashboard and rule expression running against the live pooler is
  # a case of tests/pooler_test.cpp ("[monitoring]").
  set_tests_properties(pooler.alert_rules pooler.dashboard_lint PROPERTIES TIMEOUT 60)
endif()
