// pooler: a PostgreSQL connection pooler (transaction pooling, auth_query,
// admin console) instrumented with obs. See README.md.
//
//   pooler --config pooler.toml [--listen 127.0.0.1:6432] [--metrics-listen 127.0.0.1:9127]
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <obs/http.hpp>

#include <csignal>
#include <cstdio>
#include <string>
#include <string_view>

#include "config.hpp"
#include "metrics.hpp"
#include "server.hpp"

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
    if (!listen.empty()) cfg.listen = pooler::parse_endpoint(listen, "--listen");
    if (!metrics_listen.empty()) cfg.metrics_listen = pooler::parse_endpoint(metrics_listen, "--metrics-listen");
  } catch (const pooler::config_error& e) {
    std::fprintf(stderr, "pooler: bad config: %s\n", e.what());
    return 1;
  }
  try {
    pooler::metrics::describe();
    obs::http::options http;
    http.address = cfg.metrics_listen.host;
    http.port = cfg.metrics_listen.port;
    auto metrics_server = obs::http::serve(http);

    boost::asio::io_context ioc(1);
    pooler::service service(ioc, cfg, config_path);
    service.start();
    std::printf("pooler: listening on %s:%u, metrics on http://%s:%u/metrics\n", cfg.listen.host.c_str(),
                unsigned{service.port()}, cfg.metrics_listen.host.c_str(), unsigned{metrics_server->port()});
    std::fflush(stdout);
    boost::asio::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code&, int) {
      service.stop();
      ioc.stop();
    });
    ioc.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pooler: %s\n", e.what());
    return 1;
  }
  return 0;
}
