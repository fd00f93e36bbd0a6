# Tests of the proxy's alert rules, prometheus/alerts (the rules and their
# promtool unit tests). Included by examples/proxy/CMakeLists.txt. A missing
# promtool fails the test, naming the variable, rather than dropping it.
if(OBS_BUILD_TESTS)
  find_program(OBS_PROMTOOL promtool)
  set(proxy_alerts ${CMAKE_CURRENT_LIST_DIR}/prometheus/alerts)

  # The rules load, and each alert fires when it should and not otherwise.
  add_test(NAME proxy.alert_rules
           COMMAND sh -c "\"$0\" check rules \"$1/pgcache.rules.yml\" && \"$0\" test rules \"$1/pgcache.rules.test.yml\""
                   ${OBS_PROMTOOL} ${proxy_alerts})
  set_tests_properties(proxy.alert_rules PROPERTIES TIMEOUT 60)
endif()
