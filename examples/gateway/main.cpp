// obs_gateway: a real-time messaging gateway. Clients post messages over HTTP
// or WebSocket into rooms; the gateway stores them in PostgreSQL, fans them
// out to the room's members and writes their ACKs back in batches;
// attachments go to an S3-compatible store. Metrics and health probes are
// served on a separate management port only (design doc 005, section 1.1).
//
//   obs_gateway --database-url "host=127.0.0.1 dbname=chat user=postgres password=..."
//               --s3-endpoint http://127.0.0.1:4568 --s3-access-key S3RVER --s3-secret-key S3RVER
//
// Stops on SIGINT or SIGTERM: requests in progress get --shutdown-timeout-ms.
#include <obs/http.hpp>
#include <obs/protobuf.hpp>
#include <obs/registry.hpp>
#include <service/metrics_push.hpp>
#include <service/stop_signals.hpp>

#include <chrono>
#include <cstdio>
#include <exception>
#include <span>
#include <string_view>

#include "config.hpp"
#include "metrics.hpp"
#include "server.hpp"

int main(int argc, char** argv) {
  gateway::config cfg;
  try {
    const std::span<const char* const> args(argv + 1, static_cast<std::size_t>(argc - 1));
    for (std::string_view a : args)
      if (a == "--help" || a == "-h") {
        std::fputs(gateway::usage().c_str(), stdout);
        return 0;
      }
    cfg = gateway::parse_args(args);
  } catch (const gateway::config_error& e) {
    std::fprintf(stderr, "obs_gateway: %s\n", e.what());
    return 2;
  }

  // First, before any thread starts: only stop.wait() sees SIGINT/SIGTERM.
  service::stop_signals stop;

  try {
    gateway::register_metrics();
    gateway::server public_api(cfg);
    public_api.start();

    obs::http::options management;
    management.address = cfg.management_listen.host;
    management.port = cfg.management_listen.port;
    management.live_path = "/livez";
    management.ready_path = "/readyz";
    // Protobuf too: Prometheus reads the native request-duration histogram only from it.
    auto admin = obs::http::serve(management, obs::global_registry(), obs::protobuf::render_to);
    admin->health().add_check("database", [&public_api] {
      return public_api.database_ready() ? obs::http::check_result::healthy("PostgreSQL answers")
                                         : obs::http::check_result::unhealthy("PostgreSQL did not answer");
    });
    admin->health().add_check("object_store", [&public_api] {
      return public_api.object_store_ready() ? obs::http::check_result::healthy("bucket reachable")
                                             : obs::http::check_result::unhealthy("S3 store did not answer");
    });

    std::printf("gateway: public http://%s:%u (HTTP API, WebSocket /ws)\n", cfg.listen.host.c_str(),
                static_cast<unsigned>(public_api.port()));
    std::printf("gateway: management http://%s:%u (/metrics, /health, /livez, /readyz)\n",
                cfg.management_listen.host.c_str(), static_cast<unsigned>(admin->port()));
    std::fflush(stdout);

    // Pushed as well as scraped, when asked: the last push goes out at exit.
    const auto push = service::start_push(cfg.push, "gateway", service::to_string(cfg.listen));

    const int signal = stop.wait();
    std::printf("gateway: stopping on signal %d\n", signal);
    std::fflush(stdout);
    // The drain is bounded by --shutdown-timeout-ms; the watchdog only
    // catches a shutdown that is stuck anyway.
    service::shutdown_deadline bound(cfg.shutdown_timeout + std::chrono::seconds(2), "obs_gateway");
    admin->health().set_ready(false);
    public_api.stop();
    admin->stop();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "obs_gateway: %s\n", e.what());
    return 1;
  }
  return 0;
}
