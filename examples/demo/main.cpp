// obs_demo: made-up metrics for the monitoring checkers' tests
// (examples/common/monitoring). It records the metrics of the five services
// obs was built from (a PostgreSQL pooler's auth_query, a connection pool
// library, a caching proxy, an HTTP gateway to Redis and a WebSocket gateway),
// plus the process metrics and a build-info metric, while a few threads
// simulate traffic. Then it prints them, or serves them live:
//
//   obs_demo                          # Prometheus text, a blank line, JSON
//   obs_demo --format prometheus      # just one of them (or json)
//   obs_demo --serve [--port 9464]    # curl http://127.0.0.1:9464/metrics until Ctrl-C
//
// Metric names and labels are spelled exactly as the services' design
// documents spell them, so their dashboards and alert rules apply unchanged.
#include <obs/json.hpp>
#include <obs/metrics.hpp>
#include <obs/process_metrics.hpp>
#include <obs/prometheus.hpp>

#if OBS_DEMO_SERVE
#include <obs/http.hpp>

#include <csignal>
#include <pthread.h>
#endif

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <iostream>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;

// --- Metadata ---------------------------------------------------------------

// Bucketing is configured by name before the first record, so call sites
// stay a plain record(v).
void configure_histograms() {
  obs::registry& reg = obs::global_registry();
  reg.set_histogram_config(obs::matcher::full("pgcache_query_duration_seconds"),
                           obs::histogram_config::high_resolution());
  // The pool's alerts fire at P95 > 1 s and > 5 s: both are bucket bounds.
  reg.set_buckets_for_metric(obs::matcher::full("db_pool_acquire_duration_seconds"),
                             {0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10});
  reg.set_buckets_for_metric(obs::matcher::full("redis_command_duration_seconds"),
                             {0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1});
}

void describe_metrics() {
  // pg_doorman, auth_query observability.
  obs::describe_counter("pg_doorman_auth_query_cache_hits_total", "", "Number of auth_query cache hits");
  obs::describe_counter("pg_doorman_auth_query_cache_misses_total", "",
                        "Number of auth_query cache misses (triggered PG query)");
  obs::describe_counter("pg_doorman_auth_query_cache_refetches_total", "",
                        "Number of auth_query re-fetches on auth failure");
  obs::describe_counter("pg_doorman_auth_query_cache_rate_limited_total", "",
                        "Number of auth_query re-fetches blocked by rate limiting");
  obs::describe_gauge("pg_doorman_auth_query_executor_active_connections", "",
                      "Number of active executor pool connections");
  obs::describe_counter("pg_doorman_auth_query_executor_errors_total", "", "Number of auth_query executor errors");
  obs::describe_gauge("pg_doorman_auth_query_dynamic_pools", "", "Number of active dynamic user pools");
  obs::describe_counter("pg_doorman_auth_query_dynamic_pools_created_total", "", "Number of dynamic pools created");
  obs::describe_counter("pg_doorman_auth_query_dynamic_pools_destroyed_total", "",
                        "Number of dynamic pools destroyed (GC, RELOAD, etc.)");

  // The connection pool library.
  obs::describe_gauge("db_pool_connections", "", "Database pool connections by state (active, idle, max).");
  obs::describe_histogram("db_pool_acquire_duration_seconds", "seconds",
                          "Time to acquire a connection from the pool.");
  obs::describe_counter("db_pool_connection_errors_total", "", "Connection acquisition errors by type.");

  // pgcache.
  obs::describe_counter("pgcache_queries_total", "", "Queries by classification.");
  obs::describe_histogram("pgcache_query_duration_seconds", "seconds",
                          "Query latency, served from the cache or the origin.");
  obs::describe_counter("pgcache_bytes_total", "bytes", "Bytes moved, by direction.");

  // RedisGate.
  obs::describe_counter("http_requests_total", "", "Total number of HTTP requests");
  obs::describe_histogram("redis_command_duration_seconds", "seconds", "Redis command duration in seconds");

  // The WebSocket gateway.
  obs::describe_gauge("channel_queue_depth", "", "Messages waiting in internal channels, by channel type.");
  obs::describe_counter("ws_messages_sent_total", "", "WebSocket messages sent to clients.");
}

// --- pg_doorman: auth_query cache, executor and dynamic pools ----------------

void authenticate(std::string_view database, std::mt19937& rng) {
  std::uniform_int_distribution<int> roll(0, 99);
  if (roll(rng) < 85) {
    OBS_COUNTER_FAMILY("pg_doorman_auth_query_cache_hits_total", "database").with(database).increment();
    return;
  }
  OBS_COUNTER_FAMILY("pg_doorman_auth_query_cache_misses_total", "database").with(database).increment();
  OBS_GAUGE_FAMILY("pg_doorman_auth_query_executor_active_connections", "database").with(database).increment();
  if (roll(rng) < 5)
    OBS_COUNTER_FAMILY("pg_doorman_auth_query_executor_errors_total", "database").with(database).increment();
  OBS_GAUGE_FAMILY("pg_doorman_auth_query_executor_active_connections", "database").with(database).decrement();

  if (roll(rng) < 20) {
    // A failed login with a cached password: re-fetch, unless rate limited.
    if (roll(rng) < 30)
      OBS_COUNTER_FAMILY("pg_doorman_auth_query_cache_rate_limited_total", "database").with(database).increment();
    else
      OBS_COUNTER_FAMILY("pg_doorman_auth_query_cache_refetches_total", "database").with(database).increment();
  }
  if (roll(rng) < 40) {
    OBS_COUNTER_FAMILY("pg_doorman_auth_query_dynamic_pools_created_total", "database").with(database).increment();
    OBS_GAUGE_FAMILY("pg_doorman_auth_query_dynamic_pools", "database").with(database).increment();
  }
}

void collect_idle_dynamic_pools(std::string_view database) {
  obs::gauge pools = OBS_GAUGE_FAMILY("pg_doorman_auth_query_dynamic_pools", "database").with(database);
  if (pools.value() < 1) return;
  pools.decrement();
  OBS_COUNTER_FAMILY("pg_doorman_auth_query_dynamic_pools_destroyed_total", "database").with(database).increment();
}

// --- db_pool: a connection pool whose sizes are read at scrape time ----------

class connection_pool {
 public:
  connection_pool(std::string service, int max) : service_(std::move(service)), max_(max) {
    // Read when a snapshot is taken, like the library's 30-second updater
    // but always current.
    obs::registry& reg = obs::global_registry();
    metrics_.push_back(reg.gauge_callback("db_pool_connections", {{"service", service_}, {"state", "active"}},
                                          [this] { return static_cast<double>(active_.load()); }));
    metrics_.push_back(reg.gauge_callback("db_pool_connections", {{"service", service_}, {"state", "idle"}},
                                          [this] { return static_cast<double>(max_ - active_.load()); }));
    metrics_.push_back(reg.gauge_callback("db_pool_connections", {{"service", service_}, {"state", "max"}},
                                          [this] { return static_cast<double>(max_); }));
  }

  /// Takes a connection, records how long that took, and gives it back.
  void use_connection(std::mt19937& rng) {
    std::uniform_int_distribution<int> roll(0, 999);
    std::lognormal_distribution<double> wait_seconds(-6.0, 1.2);  // median about 2.5 ms
    int r = roll(rng);
    if (r < 3) return fail("timeout");
    if (r < 5) return fail("closed");
    if (r < 6) return fail("other");
    if (active_.fetch_add(1) >= max_) {
      active_.fetch_sub(1);
      return fail("timeout");
    }
    OBS_HISTOGRAM_FAMILY("db_pool_acquire_duration_seconds", "service").with(service_).record(wait_seconds(rng));
    std::this_thread::sleep_for(200us);  // the query
    active_.fetch_sub(1);
  }

 private:
  void fail(std::string_view error_type) {
    OBS_COUNTER_FAMILY("db_pool_connection_errors_total", "service", "error_type")
        .with(service_, error_type)
        .increment();
  }

  std::string service_;
  int max_;
  std::atomic<int> active_{0};
  std::vector<obs::callback_registration> metrics_;
};

// --- pgcache: a caching PostgreSQL proxy ---------------------------------------

void proxy_query(std::mt19937& rng) {
  std::uniform_int_distribution<int> roll(0, 99);
  std::uniform_int_distribution<std::uint64_t> bytes(64, 8192);
  std::lognormal_distribution<double> cache_seconds(-9.0, 0.5);   // about 120 us
  std::lognormal_distribution<double> origin_seconds(-5.0, 0.8);  // about 7 ms
  OBS_COUNTER("pgcache_bytes_total", "direction", "client_in").increment(bytes(rng));
  int r = roll(rng);
  if (r < 2) {
    OBS_COUNTER("pgcache_queries_total", "status", "parse_error").increment();
    return;
  }
  if (r < 60) {
    OBS_COUNTER("pgcache_queries_total", "status", "cache_hit").increment();
    OBS_HISTOGRAM("pgcache_query_duration_seconds", "source", "cache").record(cache_seconds(rng));
  } else {
    if (r < 85) OBS_COUNTER("pgcache_queries_total", "status", "cache_miss").increment();
    else if (r < 97) OBS_COUNTER("pgcache_queries_total", "status", "uncacheable").increment();
    else OBS_COUNTER("pgcache_queries_total", "status", "unsupported").increment();
    OBS_COUNTER("pgcache_bytes_total", "direction", "origin_out").increment(bytes(rng));
    OBS_HISTOGRAM("pgcache_query_duration_seconds", "source", "origin").record(origin_seconds(rng));
    OBS_COUNTER("pgcache_bytes_total", "direction", "origin_in").increment(bytes(rng));
  }
  OBS_COUNTER("pgcache_bytes_total", "direction", "client_out").increment(bytes(rng));
}

// --- RedisGate: an HTTP gateway to Redis ---------------------------------------

void gateway_request(std::mt19937& rng) {
  struct route {
    std::string_view method, path, command;
  };
  static constexpr route routes[] = {
      {"GET", "/api/organizations", ""},
      {"GET", "/redis/{instance}/get/{key}", "GET"},
      {"POST", "/redis/{instance}/set/{key}", "SET"},
      {"DELETE", "/redis/{instance}/del/{key}", "DEL"},
  };
  std::uniform_int_distribution<std::size_t> pick(0, std::size(routes) - 1);
  std::uniform_int_distribution<int> roll(0, 99);
  std::exponential_distribution<double> redis_micros(1.0 / 400);
  const route& r = routes[pick(rng)];
  std::string_view status = "200";
  if (int x = roll(rng); x < 3) status = "429";  // rate limited per API key
  else if (x < 6) status = "404";
  if (status == "200" && !r.command.empty())
    OBS_HISTOGRAM_FAMILY("redis_command_duration_seconds", "command")
        .with(r.command)
        .record(std::chrono::duration<double, std::micro>(redis_micros(rng)));
  OBS_COUNTER_FAMILY("http_requests_total", "method", "path", "status").with(r.method, r.path, status).increment();
}

// --- The WebSocket gateway: fan-out queues -------------------------------------

void broadcast(std::mt19937& rng) {
  std::uniform_int_distribution<int> fan_out(1, 8);
  int n = fan_out(rng);
  OBS_GAUGE("channel_queue_depth", "type", "outbound").increment(n);
  OBS_GAUGE("channel_queue_depth", "type", "outbound").decrement(n);  // drained by the writer
  OBS_COUNTER("ws_messages_sent_total").increment(static_cast<std::uint64_t>(n));
  OBS_GAUGE("channel_queue_depth", "type", "ack").set(fan_out(rng) - 1);
}

// --- Traffic ---------------------------------------------------------------------

/// Simulates traffic on `threads` threads until `stop` is set or `duration` passes.
void simulate(std::vector<connection_pool*> pools, unsigned threads, std::chrono::milliseconds duration,
              const std::atomic<bool>& stop) {
  const auto deadline = std::chrono::steady_clock::now() + duration;
  std::vector<std::jthread> workers;
  for (unsigned t = 0; t < threads; ++t) {
    workers.emplace_back([&pools, &stop, deadline, t] {
      std::mt19937 rng(t + 1);  // fixed seeds: the same mix of traffic on every run
      constexpr std::string_view databases[] = {"mydb", "otherdb"};
      for (std::uint64_t i = 0; !stop.load(std::memory_order_relaxed) && std::chrono::steady_clock::now() < deadline;
           ++i) {
        std::string_view database = databases[i % std::size(databases)];
        authenticate(database, rng);
        if (t == 0 && i % 16 == 15)  // one collector thread, as in pg_doorman
          for (std::string_view idle : databases) collect_idle_dynamic_pools(idle);
        pools[i % pools.size()]->use_connection(rng);
        proxy_query(rng);
        gateway_request(rng);
        broadcast(rng);
        std::this_thread::sleep_for(1ms);
      }
    });
  }
}

#if OBS_DEMO_SERVE
int serve(std::uint16_t port, std::vector<connection_pool*> pools) {
  // Blocked before any thread starts, so every thread inherits the mask and
  // only sigwait below sees SIGINT/SIGTERM.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  obs::http::options opts;
  opts.port = port;
  std::unique_ptr<obs::http::server> server = obs::http::serve(opts);
  const unsigned bound = server->port();
  std::printf("serving on http://%s:%u\n  curl http://%s:%u%s\n  curl 'http://%s:%u%s?format=json'\n"
              "Ctrl-C to stop\n",
              opts.address.c_str(), bound, opts.address.c_str(), bound, opts.metrics_path.c_str(),
              opts.address.c_str(), bound, opts.metrics_path.c_str());
  std::fflush(stdout);

  std::atomic<bool> stop{false};
  std::jthread traffic([&] { simulate(pools, 2, std::chrono::hours(24 * 365), stop); });
  int signal = 0;
  sigwait(&signals, &signal);
  stop.store(true, std::memory_order_relaxed);
  traffic.join();
  server->stop();
  return 0;
}
#endif

int usage(const char* program) {
  std::fprintf(stderr, "usage: %s [--format prometheus|json|both]%s\n", program,
#if OBS_DEMO_SERVE
               " [--serve [--port N]]"
#else
               ""
#endif
  );
  return 2;
}

}  // namespace

int main(int argc, char** argv) try {
  std::string_view format = "both";
  bool live = false;
  unsigned long port = 9464;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--format" && i + 1 < argc) format = argv[++i];
    else if (arg == "--serve") live = true;
    else if (arg == "--port" && i + 1 < argc) port = std::stoul(argv[++i]);
    else return usage(argv[0]);
  }
  if ((format != "both" && format != "prometheus" && format != "json") || port > 65535) return usage(argv[0]);

  configure_histograms();
  describe_metrics();
  obs::describe_info("obs_demo_build_info", "Version of obs this demo was built with.");
  obs::global_registry().info("obs_demo_build_info", {{"version", OBS_VERSION_STRING}});
  obs::callback_registration process = obs::register_process_metrics();
  connection_pool auth("auth-service", 20);
  connection_pool billing("billing-service", 10);
  std::vector<connection_pool*> pools = {&auth, &billing};

  if (live) {
#if OBS_DEMO_SERVE
    return serve(static_cast<std::uint16_t>(port), pools);
#else
    return usage(argv[0]);
#endif
  }

  std::atomic<bool> stop{false};
  simulate(pools, 4, 1s, stop);

  obs::snapshot snap = obs::global_registry().snapshot();
  if (format != "json") std::cout << obs::prometheus::render(snap);
  if (format == "both") std::cout << '\n';
  if (format != "prometheus") std::cout << obs::json::render(snap) << '\n';
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "obs_demo: %s\n", e.what());
  return 1;
}
