#include "catalog.hpp"

#include <memory>
#include <stdexcept>
#include <vector>

#include <libpq-fe.h>

namespace proxy {

namespace {

// The most volatile overload decides; 'i' < 's' < 'v' as text.
constexpr const char* function_sql =
    "SELECT max(p.provolatile::text), bool_or(n.nspname = 'pg_catalog') FROM pg_proc p "
    "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.proname = $1 AND ($2 = '' OR n.nspname = $2)";
// Unqualified names match in every schema, temp schemas of other sessions
// included: the client's search_path is unknown here, so this errs on the
// side of not caching.
constexpr const char* relation_sql =
    "SELECT c.relpersistence::text, c.relkind::text, n.nspname || '.' || c.relname FROM pg_class c "
    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname = $1 AND ($2 = '' OR n.nspname = $2) "
    "AND c.relkind IN ('r', 'v', 'm', 'p', 'f')";

// Higher is further from a plain logged table.
int rank(const relation_facts& f) {
  if (f.persistence == 't') return 4;
  if (f.persistence == 'u') return 3;
  if (f.kind == 'v' || f.kind == 'm') return 2;
  if (f.kind == 'p' || f.kind == 'f') return 1;
  return 0;
}

}  // namespace

struct pg_catalog::rows {
  std::unique_ptr<PGresult, decltype(&PQclear)> result{nullptr, &PQclear};
  int count() const { return PQntuples(result.get()); }
  bool null(int row, int col) const { return PQgetisnull(result.get(), row, col) != 0; }
  std::string value(int row, int col) const { return PQgetvalue(result.get(), row, col); }
};

pg_catalog::pg_catalog(std::string conninfo, std::chrono::milliseconds ttl)
    : conninfo_(std::move(conninfo)), ttl_(ttl) {}

pg_catalog::~pg_catalog() {
  if (conn_) PQfinish(conn_);
}

void pg_catalog::clear() {
  std::lock_guard lock(mutex_);
  functions_.clear();
  relations_.clear();
}

pg_catalog::rows pg_catalog::query(const char* sql, const relation_name& name) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
      if (conn_) PQfinish(conn_);
      conn_ = PQconnectdb(conninfo_.c_str());
    }
    const char* params[] = {name.name.c_str(), name.schema.c_str()};
    rows r;
    r.result.reset(PQexecParams(conn_, sql, 2, nullptr, params, nullptr, nullptr, 0));
    if (PQresultStatus(r.result.get()) == PGRES_TUPLES_OK) return r;
    if (PQstatus(conn_) == CONNECTION_OK)
      throw std::runtime_error(std::string("catalog lookup failed: ") + PQerrorMessage(conn_));
    // A broken connection (the origin restarted): reconnect once.
  }
  throw std::runtime_error(std::string("catalog unreachable: ") + PQerrorMessage(conn_));
}

template <class Facts, class Parse>
Facts pg_catalog::lookup(std::map<key, cached<Facts>>& known, const char* sql, const relation_name& name,
                         Parse parse) {
  std::lock_guard lock(mutex_);
  key k{name.schema, name.name};
  auto now = clock::now();
  if (auto it = known.find(k); it != known.end() && now - it->second.at < ttl_) return it->second.facts;
  Facts facts = parse(query(sql, name));
  known[k] = {facts, now};
  return facts;
}

function_facts pg_catalog::function(const relation_name& name) {
  return lookup(functions_, function_sql, name, [](const rows& r) {
    function_facts f;
    if (r.count() == 1 && !r.null(0, 0)) {
      f.found = true;
      f.volatility = r.value(0, 0)[0];
      f.builtin = r.value(0, 1) == "t";
    }
    return f;
  });
}

relation_facts pg_catalog::relation(const relation_name& name) {
  return lookup(relations_, relation_sql, name, [](const rows& r) {
    relation_facts best;
    for (int i = 0; i < r.count(); ++i) {
      relation_facts f{true, r.value(i, 0)[0], r.value(i, 1)[0], r.value(i, 2)};
      if (!best.found || rank(f) > rank(best)) best = f;
    }
    return best;
  });
}

}  // namespace proxy
