# Core tests beyond core.cmake: opt-in collectors.
obs_add_test(process_metrics_test SOURCES process_metrics_test.cpp LIBS obs::process_metrics)
