# Core tests beyond core.cmake: opt-in collectors.
obs_add_test(process_metrics_test SOURCES process_metrics_test.cpp LIBS obs::process_metrics)
obs_add_test(scoped_timer_test SOURCES scoped_timer_test.cpp scoped_timer_disabled_test.cpp)
