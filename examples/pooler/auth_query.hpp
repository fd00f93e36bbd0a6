// A database clients may name, and its auth_query state: the executor (a few
// dedicated connections that run the query) and the cache of what it found.
// auth_query.cpp looks users up; reload.cpp builds and replaces these.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "auth.hpp"
#include "auth_cache.hpp"
#include "config.hpp"
#include "metrics.hpp"
#include "pgwire/decoder.hpp"
#include "pool.hpp"

namespace pooler {

/// The auth_query executor of one database: `workers` connections that run
/// the query, each used by one fetch at a time.
struct executor {
  struct conn {
    explicit conn(boost::asio::any_io_executor ex) : socket(ex) {}
    boost::asio::ip::tcp::socket socket;
    pgwire::decoder decoder;
    bool connected = false;
  };
  auth_query_config cfg;
  std::string host;
  std::uint16_t port = 0;
  std::vector<std::shared_ptr<conn>> conns;
  std::deque<std::shared_ptr<conn>> free;
  /// Fetches queued for a free connection: each waits on its timer, which
  /// is cancelled when one comes free.
  std::deque<std::shared_ptr<boost::asio::steady_timer>> waiters;
  unsigned busy = 0;
  /// pg_doorman_auth_query_executor_active_connections, kept equal to busy.
  obs::gauge_handle active;
  bool retired = false;
};

/// A database clients may connect to, with its auth_query state if any.
struct database_state {
  database_config cfg;
  std::shared_ptr<executor> exec;
  std::unique_ptr<auth_cache> cache;
  std::unique_ptr<metrics::auth_query_metrics> m;
  /// Fetches in flight, by user: later logins wait on the first one's timer.
  struct inflight {
    explicit inflight(boost::asio::any_io_executor ex) : done(ex) {}
    boost::asio::steady_timer done;
    std::optional<secret> result;
    std::string error;
  };
  std::map<std::string, std::shared_ptr<inflight>> inflight_fetches;
  unsigned dynamic_pools = 0;
  /// The SHOW STATS totals of its destroyed pools, so that the totals never
  /// go down when a pool goes.
  pool_stats retired_stats;
};

}  // namespace pooler
