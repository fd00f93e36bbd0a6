// Catalog facts from the origin over libpq: function volatility
// (pg_proc.provolatile) and relation persistence and kind
// (pg_class.relpersistence, relkind), cached for a while.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "classifier.hpp"
#include "pq.hpp"

namespace proxy {

/// A catalog_source on one libpq connection, reconnected when it breaks.
/// Lookups block, so the server runs them off its I/O thread. Thread-safe.
class pg_catalog final : public catalog_source {
 public:
  pg_catalog(std::string conninfo, std::chrono::milliseconds ttl);
  ~pg_catalog() override;
  pg_catalog(const pg_catalog&) = delete;
  pg_catalog& operator=(const pg_catalog&) = delete;

  /// Throws std::runtime_error when the origin cannot answer.
  function_facts function(const relation_name& name) override;
  relation_facts relation(const relation_name& name) override;
  /// Forgets every fact, e.g. after DDL went through the proxy.
  void clear();
  /// Ends lookups in progress and fails later ones: the proxy is stopping.
  void stop() noexcept { stop_.store(true, std::memory_order_relaxed); }

 private:
  using clock = std::chrono::steady_clock;
  template <class T>
  struct cached {
    T facts;
    clock::time_point at;
  };
  using key = std::pair<std::string, std::string>;

  // The rows of a two-parameter query, over a live connection.
  struct rows;
  rows query(const char* sql, const relation_name& name);
  // A fact from `known` while fresh, else parsed from a new lookup.
  template <class Facts, class Parse>
  Facts lookup(std::map<key, cached<Facts>>& known, const char* sql, const relation_name& name, Parse parse);

  std::string conninfo_;
  std::chrono::milliseconds ttl_;
  std::mutex mutex_;
  pq::connection conn_{nullptr, &PQfinish};
  pq::stop_flag stop_{false};
  std::map<key, cached<function_facts>> functions_;
  std::map<key, cached<relation_facts>> relations_;
};

}  // namespace proxy
