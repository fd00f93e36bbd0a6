#include "obs/http/options.hpp"

#include <catch2/catch.hpp>

TEST_CASE("defaults are those of a closed management port") {
  const obs::http::options o;
  CHECK(o.address == "127.0.0.1");
  CHECK(o.port == 9464);
  CHECK(o.metrics_path == "/metrics");
  CHECK(o.health_path == "/health");
  CHECK(o.live_path == "/health/live");
  CHECK(o.ready_path == "/health/ready");
  CHECK_FALSE(o.auth.enabled());
  CHECK_FALSE(o.auth_health);
  CHECK(o.gzip);
  CHECK(o.threads >= 1);
  CHECK(o.max_connections > 0);
  CHECK(o.max_inflight_scrapes > 0);
  // A slowloris client must run out of time well before an idle one.
  CHECK(o.header_timeout < o.idle_timeout);
}
