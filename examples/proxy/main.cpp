// obs_proxy: a caching PostgreSQL proxy (pgcache ADR-007) instrumented
// with obs. Flags, startup, and a clean stop on SIGTERM/SIGINT; the proxy
// itself is server.cpp.
//
//   obs_proxy --origin "host=127.0.0.1 port=5432 user=postgres password=... dbname=app"
//   psql "host=127.0.0.1 port=6432 user=postgres dbname=app"
//   curl http://127.0.0.1:9090/metrics /metrics/queries
#include <csignal>
#include <cstdio>
#include <exception>
#include <pthread.h>
#include <string_view>
#include <thread>
#include <vector>

#include <obs/http.hpp>
#include <obs/http/handler.hpp>
#include <obs/registry.hpp>

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

  // Signals go to the waiter thread only: block them before any thread starts.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  try {
    proxy::describe_metrics(obs::global_registry());
    proxy::server proxy_server(cfg);

    obs::http::options http;
    http.address = cfg.metrics_listen.host;
    http.port = cfg.metrics_listen.port;
    auto metrics = obs::http::serve(http);
    metrics->handler().add_route("/metrics/queries", [&](const obs::http::request&) {
      return obs::http::json_response(proxy_server.stats().to_json(cfg.top_queries));
    });
    metrics->health().add_check("change_feed", [&] {
      const auto& feed = proxy_server.feed();
      return feed.healthy() ? obs::http::check_result::healthy("reading slot " + feed.slot())
                            : obs::http::check_result::unhealthy(feed.last_error());
    });
    metrics->health().set_ready(true);

    std::thread waiter([&] {
      int sig = 0;
      sigwait(&stop_signals, &sig);
      proxy_server.stop();
    });
    std::printf("obs_proxy: listening on %s:%u, metrics on %s:%u, change feed slot %s\n", cfg.listen.host.c_str(),
                proxy_server.port(), cfg.metrics_listen.host.c_str(), metrics->port(), proxy_server.slot().c_str());
    std::fflush(stdout);
    proxy_server.run();
    metrics->stop();
    waiter.join();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "obs_proxy: %s\n", e.what());
    return 1;
  }
  return 0;
}
