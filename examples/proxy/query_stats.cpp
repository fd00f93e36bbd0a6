#include "query_stats.hpp"

#include <algorithm>
#include <ctime>

#include <nlohmann/json.hpp>

namespace proxy {

namespace {

std::string rfc3339(std::chrono::system_clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms % 1000));
  return buf;
}

}  // namespace

void query_stats::record(const analysis& a, const classification& c, const execution& e) {
  if (a.fingerprint.empty()) return;  // parse errors have no fingerprint to group by
  auto now = std::chrono::system_clock::now();
  std::lock_guard lock(mutex_);
  auto it = by_fingerprint_.find(a.fingerprint);
  if (it == by_fingerprint_.end()) {
    if (by_fingerprint_.size() >= max_tracked_) {
      auto least = std::min_element(by_fingerprint_.begin(), by_fingerprint_.end(), [](const auto& x, const auto& y) {
        return x.second.execution_count < y.second.execution_count;
      });
      by_fingerprint_.erase(least);
    }
    stats s;
    s.sql_template = a.normalized;
    for (const auto& r : a.type == analysis::kind::select ? a.reads : a.writes)
      s.tables.push_back(r.schema.empty() ? r.name : r.schema + "." + r.name);
    std::sort(s.tables.begin(), s.tables.end());
    s.tables.erase(std::unique(s.tables.begin(), s.tables.end()), s.tables.end());
    s.first_seen = now;
    it = by_fingerprint_.emplace(a.fingerprint, std::move(s)).first;
  }
  stats& s = it->second;
  s.last_seen = now;
  ++s.execution_count;
  s.rows += e.rows;
  // The latest classification wins: catalog facts (a table turned
  // unlogged, a function replaced) can change it.
  s.cacheable = c.verdict == status::cache_miss || c.verdict == status::cache_hit;
  s.reason = c.reason;
  if (e.outcome == status::cache_hit) {
    ++s.cache_hits;
    s.cache_seconds += e.seconds;
  } else {
    if (e.outcome == status::cache_miss) ++s.cache_misses;
    ++s.origin_count;
    s.origin_seconds += e.seconds;
  }
}

std::string query_stats::to_json(std::size_t top) const {
  using json = nlohmann::json;
  std::lock_guard lock(mutex_);
  std::vector<const std::pair<const std::string, stats>*> order;
  order.reserve(by_fingerprint_.size());
  for (const auto& entry : by_fingerprint_) order.push_back(&entry);
  std::sort(order.begin(), order.end(), [](auto* x, auto* y) {
    if (x->second.execution_count != y->second.execution_count)
      return x->second.execution_count > y->second.execution_count;
    return x->first < y->first;  // deterministic among equals
  });
  if (order.size() > top) order.resize(top);
  json out = json::array();
  for (const auto* entry : order) {
    const stats& s = entry->second;
    json q;
    q["fingerprint"] = entry->first;
    q["sql_template"] = s.sql_template;
    q["tables"] = s.tables;
    q["first_seen"] = rfc3339(s.first_seen);
    q["last_seen"] = rfc3339(s.last_seen);
    q["execution_count"] = s.execution_count;
    q["cache_hits"] = s.cache_hits;
    q["cache_misses"] = s.cache_misses;
    q["avg_latency_cache_ms"] = s.cache_hits ? json(s.cache_seconds * 1000 / s.cache_hits) : json(nullptr);
    q["avg_latency_origin_ms"] = s.origin_count ? json(s.origin_seconds * 1000 / s.origin_count) : json(nullptr);
    q["avg_rows_returned"] = static_cast<double>(s.rows) / static_cast<double>(s.execution_count);
    q["cacheable"] = s.cacheable;
    q["uncacheable_reason"] =
        s.reason ? json{{"category", category_name(s.reason->category)}, {"details", s.reason->details}} : json(nullptr);
    out.push_back(std::move(q));
  }
  // Invalid UTF-8 in a statement must not make the endpoint throw.
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace proxy
