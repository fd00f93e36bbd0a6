#include "readiness.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace gateway {

namespace asio = boost::asio;
using asio::awaitable;

namespace {
constexpr auto token = asio::as_tuple(asio::use_awaitable);
}  // namespace

readiness::readiness(asio::any_io_executor ex, std::string conninfo, s3_client& s3, upstream_errors& errors)
    : executor_(ex),
      pool_(ex, std::move(conninfo), 1, check_timeout),
      s3_(s3),
      errors_(errors),
      database_timer_(ex),
      object_store_timer_(ex) {}

void readiness::start() {
  asio::co_spawn(executor_, check_database(), asio::detached);
  asio::co_spawn(executor_, check_object_store(), asio::detached);
}

void readiness::stop() {
  stopping_ = true;
  pool_.stop();
  database_timer_.cancel();
  object_store_timer_.cancel();
}

awaitable<void> readiness::check_database() {
  while (!stopping_) {
    const auto deadline = pg_pool::clock::now() + check_timeout;
    bool ok = false;
    try {
      pg_pool::lease c = co_await pool_.acquire(deadline);
      co_await c.exec("SELECT 1", {}, deadline);
      ok = true;
    } catch (const db_error& e) {
      if (!stopping_) errors_.report(e);
    }
    database_ok_.store(ok, std::memory_order_relaxed);  // Ordering: see the member
    if (stopping_) break;
    database_timer_.expires_after(check_interval);
    co_await database_timer_.async_wait(token);
  }
}

awaitable<void> readiness::check_object_store() {
  while (!stopping_) {
    bool ok = false;
    try {
      ok = co_await s3_.bucket_exists(check_timeout);
    } catch (const s3_error& e) {
      if (!stopping_) errors_.report(e);
    }
    object_store_ok_.store(ok, std::memory_order_relaxed);  // Ordering: see the member
    if (stopping_) break;
    object_store_timer_.expires_after(check_interval);
    co_await object_store_timer_.async_wait(token);
  }
}

}  // namespace gateway
