// auth_query: users not in the config are looked up in PostgreSQL with the
// database's query, on the executor's dedicated connections, and cached;
// concurrent logins of one user share one fetch.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cstdio>

#include "pgwire/codec.hpp"
#include "pgwire/messages.hpp"
#include "pgwire/protocol.hpp"
#include "pgwire/stream.hpp"
#include "service.hpp"

namespace pooler {
namespace {

using asio::use_awaitable;

// Runs the auth_query for `user` on a connected executor connection: the
// extended protocol, because $1 must be a parameter and never spliced in.
asio::awaitable<std::optional<std::string>> run_auth_query(executor::conn& c, const std::string& query,
                                                           const std::string& user) {
  std::string out;
  pgwire::message_writer(out, 'P').cstring("").cstring(query).int16(0).finish();
  pgwire::message_writer(out, 'B')
      .cstring("")
      .cstring("")
      .int16(0)
      .int16(1)
      .int32(static_cast<std::int32_t>(user.size()))
      .bytes(user)
      .int16(0)
      .finish();
  pgwire::message_writer(out, 'D').int8('P').cstring("").finish();
  pgwire::message_writer(out, 'E').cstring("").int32(0).finish();
  pgwire::message_writer(out, 'S').finish();
  co_await write_all(c.socket, out);
  int column = -1;
  std::optional<std::string> value;
  bool got_row = false;
  std::string error;
  for (;;) {
    auto m = co_await pgwire::async_read_message(c.socket, c.decoder);
    switch (m.type) {
      case 'T': {
        auto columns = pgwire::parse_row_description(m.body);
        for (std::size_t i = 0; i < columns.size(); ++i)
          if (columns[i].name == "passwd" || columns[i].name == "password") column = static_cast<int>(i);
        // pgbouncer's convention: (user name, password).
        if (column < 0 && columns.size() <= 2) column = static_cast<int>(columns.size()) - 1;
        if (column < 0) error = "auth_query returns no passwd or password column";
        break;
      }
      case 'D':
        if (!got_row && column >= 0) {
          auto values = pgwire::parse_data_row(m.body);
          if (static_cast<std::size_t>(column) < values.size() && values[static_cast<std::size_t>(column)])
            value = std::string(*values[static_cast<std::size_t>(column)]);
          got_row = true;
        }
        break;
      case 'E':
        error = pgwire::parse_error_response(m.body).message;
        break;
      case 'Z':
        if (!error.empty()) throw backend_error(error);
        co_return value;
      default:
        break;
    }
  }
}

}  // namespace

asio::awaitable<std::optional<secret>> service::lookup_user(std::shared_ptr<database_state> db, std::string user,
                                                            bool& from_cache) {
  if (const auto* e = db->cache->find(user, steady::now())) {
    db->m->cache_hits.increment();
    from_cache = true;
    co_return e->value;
  }
  co_return co_await fetch_coalesced(db, std::move(user), true);
}

asio::awaitable<std::optional<secret>> service::fetch_coalesced(std::shared_ptr<database_state> db, std::string user,
                                                                bool count_miss) {
  if (auto it = db->inflight_fetches.find(user); it != db->inflight_fetches.end()) {
    // Another login is fetching this user: share its answer.
    auto f = it->second;
    boost::system::error_code ec;
    co_await f->done.async_wait(asio::redirect_error(use_awaitable, ec));
    if (!f->error.empty()) throw backend_error(f->error);
    if (count_miss) db->m->cache_hits.increment();
    co_return f->result;
  }
  auto f = std::make_shared<database_state::inflight>(ioc_.get_executor());
  f->done.expires_at(steady::time_point::max());
  db->inflight_fetches[user] = f;
  try {
    f->result = co_await fetch_password(db->exec, user);
  } catch (const std::exception& e) {
    f->error = describe(e);
    if (f->error.empty()) f->error = "executor error";
  }
  db->inflight_fetches.erase(user);
  f->done.cancel();
  if (!f->error.empty()) {
    db->m->executor_errors.increment();
    throw backend_error(f->error);
  }
  db->cache->store(user, f->result, steady::now());
  if (count_miss) db->m->cache_misses.increment();
  co_return f->result;
}

asio::awaitable<void> service::connect_executor(std::shared_ptr<executor> ex, std::shared_ptr<executor::conn> c) {
  close_quietly(c->socket);
  c->socket = tcp::socket(ioc_);
  c->decoder = pgwire::decoder{};
  auto credentials = parse_secret(ex->cfg.password, true);
  if (!credentials) throw backend_error("auth_query.password is empty");
  co_await with_timeout(open_backend(c->socket, c->decoder, ex->host, ex->port, ex->cfg.user, ex->cfg.dbname, *credentials),
                        cfg_.server_connect_timeout, "timed out connecting the auth_query executor");
  c->connected = true;
}

asio::awaitable<std::optional<secret>> service::fetch_password(std::shared_ptr<executor> ex, std::string user) {
  auto deadline = steady::now() + cfg_.query_wait_timeout;
  while (ex->free.empty()) {
    if (ex->retired) throw backend_error("executor retired by RELOAD");
    auto w = std::make_shared<asio::steady_timer>(ioc_.get_executor(), deadline);
    ex->waiters.push_back(w);
    boost::system::error_code ec;
    co_await w->async_wait(asio::redirect_error(use_awaitable, ec));
    if (auto it = std::find(ex->waiters.begin(), ex->waiters.end(), w); it != ex->waiters.end()) ex->waiters.erase(it);
    if (ex->free.empty() && steady::now() >= deadline) throw timeout_error("no auth_query executor connection free");
  }
  auto c = ex->free.front();
  ex->free.pop_front();
  ++ex->busy;
  ex->active.increment();
  std::optional<std::string> value;
  std::string error;
  // A connection that was open may have died with its server: one retry on
  // a fresh connection tells a stale socket from a PostgreSQL that is down.
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool fresh = !c->connected;
    try {
      if (!c->connected) co_await connect_executor(ex, c);
      value = co_await with_timeout(run_auth_query(*c, ex->cfg.query, user), cfg_.query_wait_timeout,
                                    "auth_query timed out");
      error.clear();
      break;
    } catch (const std::exception& e) {
      error = describe(e);
      c->connected = false;
      close_quietly(c->socket);
    }
    if (fresh) break;
  }
  --ex->busy;
  ex->active.decrement();
  if (!ex->retired) ex->free.push_back(c);
  else close_quietly(c->socket);
  if (!ex->waiters.empty()) ex->waiters.front()->cancel();
  if (!error.empty()) throw backend_error(error);
  if (!value) co_return std::nullopt;
  co_return parse_secret(*value, true);
}

std::shared_ptr<executor> service::start_executor(const database_state& db) {
  auto ex = std::make_shared<executor>();
  ex->cfg = *db.cfg.auth_query;
  ex->host = db.cfg.host;
  ex->port = db.cfg.port;
  ex->active = db.m->executor_active;
  for (unsigned i = 0; i < ex->cfg.workers; ++i) {
    auto c = std::make_shared<executor::conn>(ioc_.get_executor());
    ex->conns.push_back(c);
    // Eager, as pg_doorman's executor is; a failure here is retried at the
    // first fetch, which is where errors are counted.
    asio::co_spawn(
        ioc_,
        [this, ex, c]() -> asio::awaitable<void> {
          try {
            if (!ex->retired) co_await connect_executor(ex, c);
          } catch (const std::exception& e) {
            std::fprintf(stderr, "pooler: auth_query executor for %s: %s\n", ex->cfg.dbname.c_str(), describe(e).c_str());
          }
          // Free only now, so no fetch shares the socket with the connect.
          if (ex->retired) co_return;
          ex->free.push_back(c);
          if (!ex->waiters.empty()) ex->waiters.front()->cancel();
        },
        asio::detached);
  }
  return ex;
}

void service::retire(executor& ex) {
  ex.retired = true;
  for (auto& c : ex.conns) close_quietly(c->socket);
  for (auto& w : ex.waiters) w->cancel();
}

}  // namespace pooler
