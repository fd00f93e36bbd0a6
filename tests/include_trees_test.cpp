// Linking obs::prometheus makes its own header includable, and those of the
// other exporters not: each component has its own include tree.
#include "obs/prometheus.hpp"

#include <catch2/catch.hpp>

#if __has_include(<obs/openmetrics.hpp>) || __has_include(<obs/json.hpp>) || __has_include(<obs/protobuf.hpp>)
static_assert(false, "obs::prometheus exposes another exporter's include tree");
#endif
#if __has_include(<obs/http.hpp>) || __has_include(<obs/process_metrics.hpp>)
static_assert(false, "obs::prometheus exposes obs::http's or obs::process_metrics's include tree");
#endif

TEST_CASE("an exporter's include tree holds only its own headers") {
  CHECK(obs::prometheus::render(obs::snapshot{}).empty());
}
