// redis_gateway: an HTTP gateway to Redis instances in the style of Upstash's
// REST API, with tenants and API keys in PostgreSQL, per-key rate limiting,
// health probes and Prometheus metrics (seed 003). See README.md.
#include <sys/resource.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>

#include "config.hpp"
#include "database.hpp"
#include "gateway.hpp"
#include "metrics.hpp"
#include "rate_limiter.hpp"
#include "redis_pool.hpp"
#include "server.hpp"
#include "tenants.hpp"

int main(int argc, char** argv) {
  using namespace redis_gateway;
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--help") == 0) return std::fputs(usage().c_str(), stdout), 0;
  try {
    const config cfg = parse_config(argc, argv, [](const char* n) { return std::getenv(n); });

    // Every client connection is a descriptor: take what the hard limit allows.
    if (rlimit rl{}; getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
      rl.rlim_cur = rl.rlim_max;
      setrlimit(RLIMIT_NOFILE, &rl);
    }
    // Blocked before any thread starts, so only sigwait below receives them.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    metrics::describe();
    database db(cfg.database_url, cfg.db_schema, cfg.db_pool_size);
    db.migrate();
    redis_pool pool({cfg.max_retry_attempts, cfg.retry_delay, cfg.redis_timeout, cfg.redis_pool_size});
    tenants t(db, pool);
    t.load();
    rate_limiter limiter(cfg.rate_limit_default_rps);
    gateway gw(cfg, db, pool, t, limiter);
    server srv(cfg, gw, pool);
    srv.start();
    gw.start_maintenance();

    int sig = 0;
    sigwait(&stop_signals, &sig);
    std::fprintf(stderr, "redis_gateway: signal %d, stopping\n", sig);
    srv.stop();
    return 0;
  } catch (const config_error& e) {
    std::fprintf(stderr, "redis_gateway: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "redis_gateway: %s\n", e.what());
    return 1;
  }
}
