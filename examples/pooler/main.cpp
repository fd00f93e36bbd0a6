// pooler: a PostgreSQL connection pooler (transaction pooling, auth_query,
// admin console) instrumented with obs. See README.md.
//
//   pooler --config pooler.toml [--listen 127.0.0.1:6432] [--metrics-listen 127.0.0.1:9127]
#include <boost/asio/io_context.hpp>

#include <obs/http.hpp>

#include <service/metrics_push.hpp>
#include <service/stop_signals.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>
#include <thread>

#include "config.hpp"
#include "metrics.hpp"
#include "service.hpp"

namespace {

int usage() {
  std::fputs("usage: pooler --config FILE [--listen HOST:PORT] [--metrics-listen HOST:PORT]\n", stderr);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path, listen, metrics_listen;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= argc) return false;
      out = argv[++i];
      return true;
    };
    bool ok = (arg == "--config" && value(config_path)) || (arg == "--listen" && value(listen)) ||
              (arg == "--metrics-listen" && value(metrics_listen));
    if (!ok) return usage();
  }
  if (config_path.empty()) return usage();
  pooler::config cfg;
  try {
    cfg = pooler::load_config(config_path);
    if (!listen.empty()) cfg.listen = pooler::parse_listen("--listen", listen);
    if (!metrics_listen.empty()) cfg.metrics_listen = pooler::parse_listen("--metrics-listen", metrics_listen);
  } catch (const pooler::config_error& e) {
    std::fprintf(stderr, "pooler: bad config: %s\n", e.what());
    return 1;
  }
  // Before any thread starts, so that the signals reach stop.wait() alone.
  service::stop_signals stop;
  try {
    pooler::metrics::describe();
    // One thread runs the io_context, and once it runs nothing else touches
    // the io_context or its sockets (SIGTERM reaches drain() through
    // request_drain(), a write to an eventfd): it takes no locks, which a
    // round trip would otherwise take and release a dozen times.
    boost::asio::io_context ioc(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE);
    pooler::service pooler(ioc, cfg, config_path);
    pooler.start();

    obs::http::options http;
    http.address = cfg.metrics_listen.host;
    http.port = cfg.metrics_listen.port;
    // A /health probe waits up to health_check_timeout on a hung
    // PostgreSQL; the second I/O thread answers /health/live and /metrics
    // meanwhile.
    http.threads = 2;
    auto metrics_server = obs::http::serve(http);
    metrics_server->health().add_check("postgresql", [&] { return pooler.upstreams().run(); });

    std::printf("pooler: listening on %s:%u, metrics on http://%s:%u/metrics\n", cfg.listen.host.c_str(),
                unsigned{pooler.port()}, cfg.metrics_listen.host.c_str(), unsigned{metrics_server->port()});
    std::fflush(stdout);
    std::thread io([&] { ioc.run(); });
    // Pushed as well as scraped, when asked: the last push goes out at exit.
    const auto push = service::start_push(cfg.push, "pooler", service::to_string(cfg.listen));

    stop.wait();
    metrics_server->health().set_ready(false);
    // drain() ends within shutdown_timeout; the watchdog is for a drain
    // that is stuck all the same.
    service::shutdown_deadline bound(cfg.shutdown_timeout + std::chrono::seconds(1), "pooler");
    pooler.request_drain();
    io.join();
    metrics_server->stop();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pooler: %s\n", e.what());
    return 1;
  }
  return 0;
}
