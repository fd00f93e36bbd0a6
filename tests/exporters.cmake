# Exporter tests: golden renderings of hand-built snapshots, and checks of
# the same renderings by the real consumers (promtool, the Python
# OpenMetrics parser, Python's json module).

obs_add_test(prometheus_test SOURCES prometheus_test.cpp exposition/counting_new.cpp
             LIBS obs::prometheus)
obs_add_test(openmetrics_test SOURCES openmetrics_test.cpp exposition/counting_new.cpp
             LIBS obs::openmetrics)
obs_add_test(json_test SOURCES json_test.cpp exposition/counting_new.cpp LIBS obs::json)
# Written against snapshot.hpp alone: a new format needs nothing else from obs.
obs_add_test(custom_exporter_test SOURCES custom_exporter_test.cpp)
