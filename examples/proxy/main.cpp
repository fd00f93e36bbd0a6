// obs_proxy: a caching PostgreSQL proxy (pgcache ADR-007) instrumented
// with obs. Flags, startup, and a clean stop on SIGTERM/SIGINT; the proxy
// itself is server.cpp.
//
//   obs_proxy --origin "host=127.0.0.1 port=5432 user=postgres password=... dbname=app"
//   psql "host=127.0.0.1 port=6432 user=postgres dbname=app"
//   curl http://127.0.0.1:9090/metrics /metrics/queries
#include <chrono>
#include <cstdio>
#include <exception>
#include <string_view>
#include <thread>
#include <vector>

#include <obs/http.hpp>
#include <obs/http/handler.hpp>
#include <service/metrics_push.hpp>
#include <service/stop_signals.hpp>

#include "cdc.hpp"
#include "config.hpp"
#include "metrics.hpp"
#include "query_stats.hpp"
#include "server.hpp"

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  for (auto a : args)
    if (a == "--help" || a == "-h") {
      std::fputs(proxy::usage, stdout);
      return 0;
    }
  proxy::config cfg;
  try {
    cfg = proxy::parse_flags(args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "obs_proxy: %s\n%s", e.what(), proxy::usage);
    return 2;
  }

  // First, before any thread starts: only stop.wait() sees SIGINT/SIGTERM.
  service::stop_signals stop;

  try {
    proxy::register_metrics();
    proxy::server proxy_server(cfg);

    obs::http::options http;
    http.address = cfg.metrics_listen.host;
    http.port = cfg.metrics_listen.port;
    auto management = obs::http::serve(http);
    management->handler().add_route("/metrics/queries", [&](const obs::http::request&) {
      return obs::http::json_response(proxy_server.stats().to_json(cfg.top_queries));
    });
    management->health().add_check("change_feed", [&] {
      const auto& feed = proxy_server.feed();
      return feed.healthy() ? obs::http::check_result::healthy("reading slot " + feed.slot())
                            : obs::http::check_result::unhealthy(feed.last_error());
    });
    management->health().set_ready(true);

    std::thread serving([&] { proxy_server.run(); });
    std::printf("obs_proxy: listening on %s:%u, metrics on %s:%u, change feed slot %s\n", cfg.listen.host.c_str(),
                proxy_server.port(), cfg.metrics_listen.host.c_str(), management->port(), proxy_server.slot().c_str());
    std::fflush(stdout);

    // Pushed as well as scraped, when asked: the last push goes out at exit.
    const auto push = service::start_push(cfg.push, "proxy", service::to_string(cfg.listen));

    const int signal = stop.wait();
    std::fprintf(stderr, "obs_proxy: signal %d, stopping\n", signal);
    // The drain is bounded by --shutdown-timeout-ms; the watchdog only
    // catches a shutdown that is stuck anyway.
    service::shutdown_deadline bound(cfg.shutdown_timeout + std::chrono::seconds(5), "obs_proxy");
    management->health().set_ready(false);
    proxy_server.stop();
    serving.join();
    management->stop();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "obs_proxy: %s\n", e.what());
    return 1;
  }
  return 0;
}
