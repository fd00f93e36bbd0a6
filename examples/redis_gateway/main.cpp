// redis_gateway: an HTTP gateway to Redis instances in the style of Upstash's
// REST API, with tenants and API keys in PostgreSQL, per-key rate limiting,
// health probes and Prometheus metrics (seed 003). See README.md.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>

#include <obs/http.hpp>
#include <obs/protobuf.hpp>
#include <obs/registry.hpp>
#include <service/metrics_push.hpp>
#include <service/stop_signals.hpp>

#include "config.hpp"
#include "database.hpp"
#include "gateway.hpp"
#include "health_checks.hpp"
#include "metrics.hpp"
#include "rate_limiter.hpp"
#include "server.hpp"
#include "tenants.hpp"

int main(int argc, char** argv) {
  using namespace redis_gateway;
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--help") == 0) return std::fputs(usage().c_str(), stdout), 0;
  config cfg;
  try {
    cfg = parse_config(argc, argv, [](const char* n) { return std::getenv(n); });
  } catch (const config_error& e) {
    std::fprintf(stderr, "redis_gateway: %s\n", e.what());
    return 2;
  }

  // First, before any thread starts: only stop.wait() sees SIGINT and SIGTERM.
  service::stop_signals stop;
  try {
    // Every client connection is a descriptor: take what the hard limit allows.
    if (rlimit rl{}; getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
      rl.rlim_cur = rl.rlim_max;
      setrlimit(RLIMIT_NOFILE, &rl);
    }
    // Armed at the signal; it outlives everything below, whose destruction
    // is part of stopping.
    std::optional<service::shutdown_deadline> bound;

    register_metrics();
    database db(cfg.database_url, cfg.db_schema, cfg.db_pool_size, cfg.db_timeout);
    db.migrate();
    tenants t(db);
    t.load();
    rate_limiter limiter(cfg.rate_limit_default_rps);
    health_checks checks(db, t, cfg.health_timeout);
    gateway gw(cfg, t, limiter, checks);
    server srv(cfg, gw, checks, db);
    t.on_instance_removed([&](const redis_instance& inst) {
      srv.forget(inst);
      checks.forget(inst);
    });
    srv.start();

    // The management port: /metrics and /health/live. The upstream probes
    // stay on the API port, where they have threads of their own; obs::http
    // runs probes on its I/O thread, where a wait for a hung upstream would
    // hold up the scrapes.
    std::unique_ptr<obs::http::server> management;
    if (cfg.metrics_enabled && cfg.metrics_listen) {
      obs::http::options o;
      o.address = cfg.metrics_listen->host;
      o.port = cfg.metrics_listen->port;
      o.health_path = o.ready_path = "";
      // Protobuf too: Prometheus reads the native request-duration histogram only from it.
      management = obs::http::serve(o, obs::global_registry(), obs::protobuf::render_to);
      std::printf("redis_gateway: metrics on %s\n", service::to_string({o.address, management->port()}).c_str());
      std::fflush(stdout);
    }
    gw.start_maintenance();

    // Pushed as well as scraped, when asked: the last push goes out at exit.
    const auto push = service::start_push(cfg.push, "redis_gateway", service::to_string(cfg.listen));

    const int signal = stop.wait();
    std::fprintf(stderr, "redis_gateway: signal %d, stopping\n", signal);
    // The drain is bounded by --shutdown-timeout-ms; the watchdog only
    // catches a shutdown that is stuck anyway.
    bound.emplace(cfg.shutdown_timeout + std::chrono::seconds(5), "redis_gateway");
    srv.drain(cfg.shutdown_timeout);
    if (management) management->stop();
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "redis_gateway: %s\n", e.what());
    return 1;
  }
}
