#include "health_checks.hpp"

#include <cstdio>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "redis_connection.hpp"
#include "redis_pipeline.hpp"

namespace redis_gateway {

namespace asio = boost::asio;
using clock = std::chrono::steady_clock;

namespace {

// Every instance PINGed once, all at the same time.
struct round {
  clock::time_point started = clock::now();
  std::optional<clock::time_point> ended;  // under impl::mutex
  std::vector<redis_instance_ptr> instances;
  // Written on the checks' thread, read once `finished` is ready; none for
  // an instance deleted before its PING went out.
  std::vector<std::optional<redis_result>> results;
  std::size_t left = 0;
  std::promise<void> done;
  std::shared_future<void> finished = done.get_future().share();
};

// The round's PINGs complete on the checks' thread within the timeout; this
// much more covers handing the results over.
constexpr auto hand_over = std::chrono::milliseconds(250);

}  // namespace

struct health_checks::impl {
  impl(database& d, const tenants& t, std::chrono::milliseconds to)
      : db(d), tenant_cache(t), timeout(to),
        pipes(ioc, {.timeout = to, .attempts = 1, .retry_delay = {}, .client_name = "redis_gateway-health"}),
        thread([this] { ioc.run(); }) {}

  ~impl() {
    asio::post(ioc, [this] {
      pipes.close_all("gateway stopping");
      ioc.stop();
    });
    thread.join();
  }

  // The round in flight, else a new one; but a check_redis() that follows a
  // check_database() (`fresh` false) takes the round that one started, which
  // ended a moment ago at most.
  std::shared_ptr<round> join_round(bool fresh) {
    std::lock_guard lock(mutex);
    if (current && (!current->ended || (!fresh && clock::now() - *current->ended < timeout + hand_over)))
      return current;
    auto r = std::make_shared<round>();
    r->instances = tenant_cache.instances();
    r->results.resize(r->instances.size());
    r->left = r->instances.size();
    current = r;
    if (r->left == 0) {
      r->ended = r->started;
      r->done.set_value();
      return r;
    }
    asio::post(ioc, [this, r] {
      auto answered = [this, r](std::size_t i, std::optional<redis_result> res) {
        r->results[i] = std::move(res);
        if (--r->left > 0) return;
        {
          std::lock_guard lock(mutex);
          r->ended = clock::now();
        }
        r->done.set_value();
      };
      for (std::size_t i = 0; i < r->instances.size(); ++i) {
        // An instance deleted since the round began would get a connection
        // after forget() closed its last one: skipped, since forget() runs
        // on this thread after any PING that finds the instance still here.
        const auto still = tenant_cache.find_instance(r->instances[i]->name);
        if (!still || still->instance->id != r->instances[i]->id) {
          answered(i, std::nullopt);
          continue;
        }
        pipes.async_execute(r->instances[i], {"PING"}, reply_encoding::text, {},  // probes are not counted
                            [answered, i](redis_result res) { answered(i, std::move(res)); });
      }
    });
    return r;
  }

  database& db;
  const tenants& tenant_cache;
  std::chrono::milliseconds timeout;
  asio::io_context ioc{1};
  asio::executor_work_guard<asio::io_context::executor_type> busy = asio::make_work_guard(ioc);
  redis_pipeline pipes;  // runs on `thread` alone
  std::mutex mutex;
  std::shared_ptr<round> current;
  std::thread thread;  // last: it runs what the members above hold
};

health_checks::health_checks(database& db, const tenants& t, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<impl>(db, t, timeout)) {}

health_checks::~health_checks() = default;

obs::http::check_result health_checks::check_database() {
  impl_->join_round(true);
  try {
    impl_->db.ping(impl_->timeout);
    return obs::http::check_result::healthy("Database connection OK");
  } catch (const database_error& e) {
    std::fprintf(stderr, "redis_gateway: health check: PostgreSQL: %s\n", e.what());
    return obs::http::check_result::unhealthy("database unreachable");
  }
}

obs::http::check_result health_checks::check_redis() {
  const auto r = impl_->join_round(false);
  const auto limit = std::chrono::duration_cast<std::chrono::milliseconds>(impl_->timeout + hand_over);
  if (r->finished.wait_until(r->started + limit) != std::future_status::ready)
    return obs::http::check_result::unhealthy("no answer within " + std::to_string(limit.count()) + " ms");
  std::size_t all = 0, down = 0;
  for (std::size_t i = 0; i < r->instances.size(); ++i) {
    if (!r->results[i]) continue;
    ++all;
    const redis_result& res = *r->results[i];
    if (res.result == redis_result::outcome::ok && res.value == "PONG") continue;
    ++down;
    const redis_instance& inst = *r->instances[i];
    std::fprintf(stderr, "redis_gateway: health check: redis instance %s (%s:%u): %s\n", inst.name.c_str(),
                 inst.host.c_str(), inst.port, res.error.empty() ? "unexpected reply to PING" : res.error.c_str());
  }
  if (down == 0)
    return obs::http::check_result::healthy(std::to_string(redis_connection::open_connections()) +
                                            " active connections, " + std::to_string(all) + " instances");
  const std::string message = std::to_string(down) + " of " + std::to_string(all) + " instances unreachable";
  return down == all ? obs::http::check_result::unhealthy(message) : obs::http::check_result::degraded(message);
}

void health_checks::forget(const redis_instance& inst) {
  asio::post(impl_->ioc, [this, inst] { impl_->pipes.forget(inst); });
}

}  // namespace redis_gateway
