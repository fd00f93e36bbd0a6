// The pools: lending a server connection to a client (an idle one, a new
// one, or the next one returned, within query_wait_timeout), taking it back,
// and making, destroying and re-homing pools.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cstdio>
#include <exception>

#include "service.hpp"

namespace pooler {
namespace {

/// Records a connection lent from `p` to a client that asked at `asked`.
/// Always inline: take_idle lends for nearly every transaction, and g++
/// kept this out of line once it recorded, at 10 instructions per call.
[[gnu::always_inline]] inline void note_lent(pool& p, steady::time_point asked) {
  const auto now = steady::now();
  const auto waited = std::chrono::duration_cast<std::chrono::microseconds>(now - asked);
  p.stats.wait_time += waited;
  p.max_wait = std::max(p.max_wait, waited);
  p.last_used = now;
  p.m->acquire_duration.record(now - asked);
}

}  // namespace

// No check of the connection's life here: the read in flight on an idle
// connection (release) has taken out any that PostgreSQL ended.
std::shared_ptr<server_conn> service::take_idle(pool& p, steady::time_point asked) {
  if (p.idle.empty()) return nullptr;
  auto sv = std::move(p.idle.back());
  p.idle.pop_back();
  p.busy.push_back(sv);
  p.sync_counts();
  note_lent(p, asked);
  return sv;
}

void service::closed_while_idle(const std::shared_ptr<server_conn>& sv) {
  close_quietly(sv->socket);
  for (auto& entry : pools_) {
    auto& p = *entry.second;
    auto it = std::find(p.idle.begin(), p.idle.end(), sv);
    if (it == p.idle.end()) continue;
    p.idle.erase(it);
    p.m->errors_closed.increment();
    p.sync_counts();
    // A queued client may connect in its place.
    wake_first(p);
    return;
  }
  // Handed to a queued client: its write fails, and it counts the loss.
}

void service::start_waiting(client& c, steady::time_point now) {
  // A client woken from the queue to try again keeps its first deadline.
  if (c.waiting) return;
  c.waiting = true;
  c.asked = now;
  c.wait_deadline = now + cfg_.query_wait_timeout;
}

void service::queue_for_server(std::shared_ptr<client> c, steady::time_point now) {
  start_waiting(*c, now);
  const auto deadline = c->wait_deadline;
  auto& p = *c->pool_;
  p.waiters.push_back(std::move(c));
  p.sync_counts();
  watch_wait_deadline(deadline);
}

void service::wake_first(pool& p) {
  if (p.waiters.empty()) return;
  auto c = std::move(p.waiters.front());
  p.waiters.pop_front();
  p.sync_counts();
  resume_waiter(std::move(c));
}

void service::resume_waiter(std::shared_ptr<client> c) {
  if (c->held) {
    // Posted: whoever took it out of the queue is midway through its own work.
    asio::post(ioc_, [this, c = std::move(c)]() mutable { resume_queued(std::move(c)); });
  } else {
    c->wake.cancel();
  }
}

void service::resume_queued(std::shared_ptr<client> c) {
  const auto request = *std::exchange(c->held, std::nullopt);
  forward(std::move(c), request.bytes, request.answers, request.then_end);
}

// One timer for every queue: query_wait_timeout is checked when the earliest
// deadline passes, not by a timer per queued client.
void service::watch_wait_deadline(steady::time_point deadline) {
  if (wait_timer_armed_ && wait_timer_.expiry() <= deadline) return;
  wait_timer_armed_ = true;
  // Re-arming cancels the wait for the later deadline: its handler sees
  // operation_aborted and leaves the flag to this one.
  wait_timer_.expires_at(deadline);
  wait_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    wait_timer_armed_ = false;
    expire_waiters();
  });
}

void service::expire_waiters() {
  const auto now = steady::now();
  auto next = steady::time_point::max();
  for (auto& entry : pools_) {
    auto& p = *entry.second;
    // Not in deadline order: a client woken to try again keeps its place's
    // deadline but queues anew at the back.
    for (auto it = p.waiters.begin(); it != p.waiters.end();) {
      auto c = *it;
      if (c->wait_deadline > now) {
        next = std::min(next, c->wait_deadline);
        ++it;
        continue;
      }
      it = p.waiters.erase(it);
      if (!c->held) {
        c->wake.cancel();  // acquire() sees the deadline passed, and counts it
        continue;
      }
      c->held.reset();
      c->waiting = false;
      p.m->errors_timeout.increment();
      give_up_waiting(*c);
    }
    p.sync_counts();
  }
  if (next != steady::time_point::max()) watch_wait_deadline(next);
}

asio::awaitable<std::shared_ptr<server_conn>> service::acquire(std::shared_ptr<client> c) {
  const auto start = steady::now();
  start_waiting(*c, start);
  for (;;) {
    // Read anew each time: a RELOAD may move the client to another pool
    // while it waits.
    auto p = c->pool_;
    // Stopping, or RELOAD removed the client's user: its callers see which
    // and tell the client themselves.
    if (draining_ || p->destroyed) throw timeout_error("no server connection for this client any more");
    if (auto sv = take_idle(*p, c->asked)) co_return sv;
    if (!p->full()) {
      ++p->connecting;
      std::shared_ptr<server_conn> sv;
      std::exception_ptr failure;
      std::string detail;
      try {
        sv = co_await connect_server(*p);
      } catch (const timeout_error& e) {
        p->m->errors_timeout.increment();
        failure = std::current_exception();
        detail = e.what();
      } catch (const std::exception& e) {
        p->m->errors_other.increment();
        failure = std::current_exception();
        detail = describe(e);
      }
      --p->connecting;
      if (failure) {
        // Logged once per run of failures: an outage would fill the log.
        if (p->connect_failures++ == 0)
          std::fprintf(stderr, "pooler: %s: cannot log in to PostgreSQL at %s:%u: %s\n", p->service().c_str(),
                       p->host.c_str(), unsigned{p->port}, detail.c_str());
        // A queued client may try a connect of its own.
        wake_first(*p);
        p->sync_counts();
        std::rethrow_exception(failure);
      }
      if (p->connect_failures > 0) {
        std::fprintf(stderr, "pooler: %s: logged in to PostgreSQL again after %u failures\n", p->service().c_str(),
                     p->connect_failures);
        p->connect_failures = 0;
      }
      // Made for the pool the client had when it asked.
      if (c->pool_ != p) sv->discard = true;
      c->pool_->busy.push_back(sv);
      p->sync_counts();
      c->pool_->sync_counts();
      note_lent(*c->pool_, c->asked);
      co_return sv;
    }
    queue_for_server(c, start);
    c->wake.expires_at(steady::time_point::max());
    co_await c->wake.async_wait(asio::as_tuple(asio::use_awaitable));
    // Whoever woke it took it out of the queue.
    if (auto sv = std::exchange(c->handed, nullptr)) co_return sv;
    if (steady::now() >= c->wait_deadline) {
      c->pool_->m->errors_timeout.increment();
      throw timeout_error("timed out waiting for a server connection");
    }
  }
}

void service::release(pool& p, std::shared_ptr<server_conn> sv, bool reusable) {
  if (auto it = std::find(p.busy.begin(), p.busy.end(), sv); it != p.busy.end()) {
    std::swap(*it, p.busy.back());
    p.busy.pop_back();
  }
  sv->link = nullptr;
  p.last_used = steady::now();
  if (!reusable || sv->discard || p.destroyed || draining_ || stopped_ || sv->decoder.buffered() > 0) {
    close_quietly(sv->socket);
    p.sync_counts();
    // The freed slot lets a queued client connect.
    wake_first(p);
    return;
  }
  // PostgreSQL may end it before its next use: see server_conn::reading.
  if (!sv->reading) read_server(sv);
  if (p.waiters.empty()) {
    p.idle.push_back(std::move(sv));
    p.sync_counts();
    return;
  }
  // Straight to the first queued client, counted busy already.
  auto c = std::move(p.waiters.front());
  p.waiters.pop_front();
  p.busy.push_back(sv);
  p.sync_counts();
  note_lent(p, c->asked);
  if (!c->held) {
    c->handed = std::move(sv);
    return resume_waiter(std::move(c));
  }
  // Its request goes out now, as pgbouncer's release_server does it: the
  // server has just answered, and a query that reaches it before it sleeps
  // in recv costs it no wake-up. forward() finds the connection lent, so it
  // neither queues nor takes another; the caller is done with this one.
  c->server = std::move(sv);
  resume_queued(std::move(c));
}

std::shared_ptr<pool> service::make_pool(const database_state& db, const std::string& user, const secret& credentials,
                                         unsigned size, pool_mode mode, bool dynamic) {
  auto p = std::make_shared<pool>();
  p->database = db.cfg.name;
  p->user = user;
  p->host = db.cfg.host;
  p->port = db.cfg.port;
  p->dbname = db.cfg.dbname;
  p->dynamic = dynamic;
  p->mode = mode;
  p->max = size;
  p->credentials = credentials;
  p->sync_counts();
  auto* raw = p.get();
  // Ordering: relaxed; each gauge is one value read at scrape time.
  p->m.emplace(
      p->service(),
      metrics::pool_counts{[raw] { return double(raw->n_active.load(std::memory_order_relaxed)); },
                           [raw] { return double(raw->n_idle.load(std::memory_order_relaxed)); },
                           [raw] { return double(raw->n_max.load(std::memory_order_relaxed)); },
                           [raw] { return double(raw->n_waiting.load(std::memory_order_relaxed)); }});
  pools_[{db.cfg.name, user}] = p;
  if (dynamic) {
    auto& state = *databases_.at(db.cfg.name);
    ++state.dynamic_pools;
    state.m->dynamic_pools.increment();
    state.m->dynamic_pools_created.increment();
  }
  return p;
}

void service::destroy_pool(const pool_key& key) {
  auto it = pools_.find(key);
  if (it == pools_.end()) return;
  auto p = it->second;
  pools_.erase(it);
  p->destroyed = true;
  for (auto& sv : p->idle) close_quietly(sv->socket);
  p->idle.clear();
  p->sync_counts();
  p->m->retire();  // removes its db_pool_* series
  auto db = databases_.find(p->database);
  if (db == databases_.end()) return;
  // SHOW STATS totals are counters to whoever reads them: they stay.
  db->second->retired_stats += p->stats;
  p->stats = {};
  if (p->dynamic && db->second->m) {
    --db->second->dynamic_pools;
    db->second->m->dynamic_pools.decrement();
    db->second->m->dynamic_pools_destroyed.increment();
  }
}

void service::rehome(const std::shared_ptr<pool>& old) {
  std::shared_ptr<pool> next;
  if (auto it = pools_.find({old->database, old->user}); it != pools_.end()) {
    next = it->second;
  } else if (auto db = databases_.find(old->database);
             old->dynamic && db != databases_.end() && db->second->cfg.auth_query && db->second->m) {
    const auto& aq = *db->second->cfg.auth_query;
    next = make_pool(*db->second, old->user, old->credentials, aq.pool_size, aq.mode, true);
  }
  const bool same_server =
      next && next->host == old->host && next->port == old->port && next->dbname == old->dbname;
  for (auto& [id, c] : clients_) {
    if (c->pool_ != old) continue;
    if (!next) {
      // Its user is gone from the config; one in a transaction is told
      // when it ends (server.cpp).
      if (!c->server) terminate(*c);
      continue;
    }
    c->pool_ = next;
    --old->clients;
    ++next->clients;
    if (auto sv = c->server) {
      // Counted in its new pool, so that the user never holds more than
      // one pool_size of connections.
      if (auto it = std::find(old->busy.begin(), old->busy.end(), sv); it != old->busy.end()) {
        std::swap(*it, old->busy.back());
        old->busy.pop_back();
        next->busy.push_back(sv);
      }
      if (!same_server) sv->discard = true;
    }
  }
  if (next) {
    for (auto& c : old->waiters) next->waiters.push_back(c);
    if (same_server && !next->has_parameters && old->has_parameters) {
      next->parameters = old->parameters;
      next->has_parameters = true;
    }
    next->sync_counts();
    old->waiters.clear();
  } else {
    // They try again, and find their pool gone.
    while (!old->waiters.empty()) wake_first(*old);
  }
  old->sync_counts();
}

asio::awaitable<void> service::gc_loop() {
  while (!stopped_ && !draining_) {
    gc_timer_.expires_after(cfg_.gc_interval);
    boost::system::error_code ec;
    co_await gc_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (stopped_ || draining_) co_return;
    auto now = steady::now();
    std::vector<pool_key> idle;
    for (auto& [key, p] : pools_) {
      if (!p->dynamic || p->clients > 0 || !p->busy.empty() || p->connecting > 0 || !p->waiters.empty()) continue;
      auto db = databases_.find(p->database);
      if (db == databases_.end() || !db->second->cfg.auth_query) continue;
      if (now - p->last_used >= db->second->cfg.auth_query->idle_timeout) idle.push_back(key);
    }
    for (auto& key : idle) destroy_pool(key);
  }
}

}  // namespace pooler
