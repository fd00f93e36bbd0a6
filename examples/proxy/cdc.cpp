#include "cdc.hpp"

#include <cstdio>
#include <memory>
#include <set>
#include <stdexcept>

#include <libpq-fe.h>
#include <obs/metrics.hpp>

namespace proxy {

namespace {

// One identifier of a qualified name: quoted ("" is a quote) or bare.
std::optional<std::string> identifier(std::string_view& s) {
  std::string out;
  if (s.starts_with('"')) {
    for (std::size_t i = 1; i < s.size(); ++i) {
      if (s[i] != '"') {
        out += s[i];
      } else if (i + 1 < s.size() && s[i + 1] == '"') {
        out += '"';
        ++i;
      } else {
        s.remove_prefix(i + 1);
        return out;
      }
    }
    return std::nullopt;
  }
  std::size_t end = s.find_first_of(".:");
  if (end == 0 || end == std::string_view::npos) return std::nullopt;
  out = s.substr(0, end);
  s.remove_prefix(end);
  return out;
}

using result_ptr = std::unique_ptr<PGresult, decltype(&PQclear)>;

result_ptr exec(PGconn* conn, const char* sql, const std::string& slot, ExecStatusType want) {
  const char* params[] = {slot.c_str()};
  result_ptr r(PQexecParams(conn, sql, 1, nullptr, params, nullptr, nullptr, 0), &PQclear);
  if (PQresultStatus(r.get()) != want) throw std::runtime_error(PQerrorMessage(conn));
  return r;
}

}  // namespace

std::optional<change> parse_change(std::string_view line) {
  if (!line.starts_with("table ")) return std::nullopt;
  line.remove_prefix(6);
  auto first = identifier(line);
  if (!first || line.empty()) return std::nullopt;
  change c;
  if (line.starts_with('.')) {
    line.remove_prefix(1);
    auto second = identifier(line);
    if (!second) return std::nullopt;
    c.schema = std::move(*first);
    c.table = std::move(*second);
  } else {
    c.table = std::move(*first);
  }
  if (!line.starts_with(": ")) return std::nullopt;
  line.remove_prefix(2);
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  c.type = line.substr(0, colon);
  if (c.type != "INSERT" && c.type != "UPDATE" && c.type != "DELETE" && c.type != "TRUNCATE") return std::nullopt;
  return c;
}

change_feed::change_feed(std::string conninfo, std::string slot, std::chrono::milliseconds interval,
                         result_cache& cache)
    : conninfo_(std::move(conninfo)), slot_(std::move(slot)), interval_(interval), cache_(cache) {
  cache_.set_enabled(false);  // until the first poll proves the feed works
  thread_ = std::thread([this] { run(); });
}

change_feed::~change_feed() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

std::string change_feed::last_error() const {
  std::lock_guard lock(mutex_);
  return error_;
}

void change_feed::fail(const std::string& why) {
  cache_.set_enabled(false);
  healthy_.store(false, std::memory_order_release);
  std::lock_guard lock(mutex_);
  if (error_ != why) std::fprintf(stderr, "obs_proxy: change feed: %s\n", why.c_str());
  error_ = why;
}

void change_feed::run() {
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn(nullptr, &PQfinish);
  for (;;) {
    try {
      if (!conn || PQstatus(conn.get()) != CONNECTION_OK) {
        conn.reset(PQconnectdb(conninfo_.c_str()));
        if (PQstatus(conn.get()) != CONNECTION_OK) throw std::runtime_error(PQerrorMessage(conn.get()));
        exec(conn.get(),
             "SELECT pg_create_logical_replication_slot($1, 'test_decoding') "
             "WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)",
             slot_, PGRES_TUPLES_OK);
      }
      poll(conn.get());
      if (!healthy()) {
        cache_.set_enabled(true);
        healthy_.store(true, std::memory_order_release);
        std::lock_guard lock(mutex_);
        std::fprintf(stderr, "obs_proxy: change feed: reading slot %s\n", slot_.c_str());
        error_.clear();
      }
    } catch (const std::exception& e) {
      std::string why = e.what();
      while (!why.empty() && why.back() == '\n') why.pop_back();
      fail(why);
    }
    std::unique_lock lock(mutex_);
    if (wake_.wait_for(lock, interval_, [this] { return stopping_; })) return;
  }
}

void change_feed::poll(PGconn* conn) {
  // A bounded batch per call keeps memory flat after a long outage; the
  // loop drains what is left.
  constexpr int batch = 10000;
  for (;;) {
    result_ptr r = exec(conn, "SELECT data FROM pg_logical_slot_get_changes($1, NULL, 10000)", slot_,
                        PGRES_TUPLES_OK);
    std::set<std::string> tables;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      auto c = parse_change(PQgetvalue(r.get(), i, 0));
      if (!c) continue;
      if (c->type == "INSERT") OBS_COUNTER("pgcache_cdc_events_total", "type", "insert").increment();
      else if (c->type == "UPDATE") OBS_COUNTER("pgcache_cdc_events_total", "type", "update").increment();
      else if (c->type == "DELETE") OBS_COUNTER("pgcache_cdc_events_total", "type", "delete").increment();
      tables.insert(c->table);
    }
    for (const auto& t : tables) cache_.invalidate(t);
    if (PQntuples(r.get()) < batch) break;
  }
  result_ptr lag = exec(conn,
                        "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint "
                        "FROM pg_replication_slots WHERE slot_name = $1",
                        slot_, PGRES_TUPLES_OK);
  if (PQntuples(lag.get()) == 1 && !PQgetisnull(lag.get(), 0, 0))
    OBS_GAUGE("pgcache_replication_lag_bytes").set(std::stod(PQgetvalue(lag.get(), 0, 0)));
}

}  // namespace proxy
