#include "cdc.hpp"

#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <memory>
#include <random>
#include <set>
#include <stdexcept>


#include "metrics.hpp"
#include "pq.hpp"

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

std::optional<std::uint64_t> parse_lsn(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  std::uint32_t high = 0, low = 0;
  const char* end = text.data() + text.size();
  auto h = std::from_chars(text.data(), text.data() + slash, high, 16);
  auto l = std::from_chars(text.data() + slash + 1, end, low, 16);
  if (h.ec != std::errc{} || h.ptr != text.data() + slash || l.ec != std::errc{} || l.ptr != end) return std::nullopt;
  return std::uint64_t{high} << 32 | low;
}

std::string unique_slot_name() {
  std::random_device random;
  char name[64];
  std::snprintf(name, sizeof name, "pgcache_%ld_%08x", static_cast<long>(getpid()), random());
  return name;
}

change_feed::change_feed(std::string conninfo, std::string slot, std::chrono::milliseconds interval,
                         result_cache& cache)
    : conninfo_(std::move(conninfo)), slot_(std::move(slot)), interval_(interval), cache_(cache) {
  cache_.set_enabled(false);  // until the first poll proves the feed works
  metrics.change_feed_up.set(0);
  // A slot of that name already there is somebody else's. (An origin that
  // cannot be reached now is retried by the feed's thread.)
  std::optional<std::string> holder;
  try {
    auto conn = pq::connect(conninfo_, "obs_proxy change feed");
    auto r = pq::exec(conn.get(), "SELECT coalesce(active_pid::text, 'no process') FROM pg_replication_slots "
                      "WHERE slot_name = $1", {slot_.c_str()}, PGRES_TUPLES_OK);
    if (PQntuples(r.get()) > 0) holder = PQgetvalue(r.get(), 0, 0);
  } catch (const pq::error&) {
  }
  if (holder)
    throw std::runtime_error("replication slot " + slot_ + " exists already (active: " + *holder +
                             "); each obs_proxy needs a slot of its own: leave --slot out for a unique "
                             "name, or drop the slot if nothing uses it");
  thread_ = std::thread([this] { run(); });
}

change_feed::~change_feed() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  // Ordering: relaxed; the feed's thread only needs to see it eventually.
  stop_.store(true, std::memory_order_relaxed);
  wake_.notify_all();
  thread_.join();
}

std::string change_feed::last_error() const {
  std::lock_guard lock(mutex_);
  return error_;
}

void change_feed::hurry() {
  {
    std::lock_guard lock(mutex_);
    hurried_ = true;
  }
  wake_.notify_one();
}

void change_feed::fail(const std::string& why) {
  cache_.set_enabled(false);
  healthy_.store(false, std::memory_order_release);
  metrics.change_feed_up.set(0);
  marks_.clear();
  std::lock_guard lock(mutex_);
  if (error_ != why) std::fprintf(stderr, "obs_proxy: change feed: %s\n", why.c_str());
  error_ = why;
}

void change_feed::run() {
  pq::connection conn(nullptr, &PQfinish);
  for (;;) {
    try {
      if (!conn) {
        conn = pq::connect(conninfo_, "obs_proxy change feed", &stop_);
        // Temporary: this connection alone may read it, and it goes with
        // the connection. Creating it waits for transactions in progress.
        pq::exec(conn.get(), "SELECT pg_create_logical_replication_slot($1, 'test_decoding', true)",
                 {slot_.c_str()}, PGRES_TUPLES_OK, std::chrono::minutes(1), &stop_);
      }
      poll(conn.get());
      if (!healthy()) {
        // Results fetched before the slot existed may have missed changes:
        // enabling refuses every fill that started before now.
        cache_.set_enabled(true);
        healthy_.store(true, std::memory_order_release);
        metrics.change_feed_up.set(1);
        std::lock_guard lock(mutex_);
        std::fprintf(stderr, "obs_proxy: change feed: reading slot %s\n", slot_.c_str());
        error_.clear();
      }
    } catch (const std::exception& e) {
      fail(e.what());
      conn.reset();  // the next connection gets a slot of its own
    }
    std::unique_lock lock(mutex_);
    if (wake_.wait_for(lock, interval_, [this] { return stopping_ || hurried_; }) && stopping_) return;
    hurried_ = false;
  }
}

void change_feed::poll(PGconn* conn) {
  // Whatever committed before `now` ends at or before the WAL insert position.
  const auto now = clock::now();
  auto insert = pq::exec(conn, "SELECT pg_current_wal_insert_lsn()::text", {}, PGRES_TUPLES_OK,
                         std::chrono::seconds(10), &stop_);
  if (auto lsn = parse_lsn(PQgetvalue(insert.get(), 0, 0))) {
    constexpr std::size_t max_marks = 256;
    if (marks_.size() >= max_marks) marks_.pop_front();
    marks_.push_back({now, *lsn});
  }
  // A bounded batch per call keeps memory flat after a long outage; the
  // loop drains what is left.
  constexpr int batch = 10000;
  for (;;) {
    pq::result r = pq::exec(conn, "SELECT data FROM pg_logical_slot_get_changes($1, NULL, 10000)", {slot_.c_str()},
                            PGRES_TUPLES_OK, std::chrono::minutes(1), &stop_);
    std::set<std::string> tables;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      auto c = parse_change(PQgetvalue(r.get(), i, 0));
      if (!c) continue;
      if (c->type == "INSERT") metrics.cdc_events[index(row_change::insert)].increment();
      else if (c->type == "UPDATE") metrics.cdc_events[index(row_change::update)].increment();
      else if (c->type == "DELETE") metrics.cdc_events[index(row_change::remove)].increment();
      tables.insert(c->table);
    }
    for (const auto& t : tables) cache_.invalidate(t);
    if (PQntuples(r.get()) < batch) break;
  }
  // The slot must still be this connection's: a slot read by anyone else
  // (or dropped and made again) has changes this feed never saw.
  pq::result slot = pq::exec(conn,
                             "SELECT confirmed_flush_lsn::text, "
                             "pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint "
                             "FROM pg_replication_slots WHERE slot_name = $1 AND active_pid = pg_backend_pid()",
                             {slot_.c_str()}, PGRES_TUPLES_OK, std::chrono::seconds(10), &stop_);
  if (PQntuples(slot.get()) != 1) throw std::runtime_error("replication slot " + slot_ + " is no longer this feed's");
  const auto confirmed = parse_lsn(PQgetvalue(slot.get(), 0, 0));
  while (confirmed && !marks_.empty() && marks_.front().lsn <= *confirmed) {
    // Ordering: relaxed; sessions compare times and need nothing else.
    caught_up_.store(marks_.front().at.time_since_epoch().count(), std::memory_order_relaxed);
    marks_.pop_front();
  }
  if (!PQgetisnull(slot.get(), 0, 1))
    metrics.replication_lag_bytes.set(std::stod(PQgetvalue(slot.get(), 0, 1)));
}

}  // namespace proxy
