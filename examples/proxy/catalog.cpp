#include "catalog.hpp"

#include <memory>
#include <stdexcept>
#include <vector>

#include "pq.hpp"

namespace proxy {

namespace {

// The most volatile overload decides; 'i' < 's' < 'v' as text.
constexpr const char* function_sql =
    "SELECT max(p.provolatile::text), bool_or(n.nspname = 'pg_catalog') FROM pg_proc p "
    "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.proname = $1 AND ($2 = '' OR n.nspname = $2)";
// Unqualified names match in every schema, temp schemas of other sessions
// included: the client's search_path is unknown here, so this errs on the
// side of not caching. A trigger writes elsewhere unless it is a foreign
// key's check; cascading, SET NULL and SET DEFAULT actions write the
// referencing table.
constexpr const char* relation_sql =
    "SELECT c.relpersistence::text, c.relkind::text, n.nspname || '.' || c.relname, "
    "EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhparent = c.oid), "
    "c.relhasrules OR EXISTS (SELECT 1 FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid "
    "WHERE t.tgrelid = c.oid AND (NOT t.tgisinternal OR p.proname ~ '^RI_FKey_(cascade|setnull|setdefault)_')) "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname = $1 "
    "AND ($2 = '' OR n.nspname = $2) AND c.relkind IN ('r', 'v', 'm', 'p', 'f', 'S')";

// Higher is further from a plain logged table; the worst of the relations
// a name may mean decides how it is read.
int rank(const relation_facts& f) {
  if (f.persistence == 't') return 6;
  if (f.persistence == 'u') return 5;
  if (f.kind == 'v' || f.kind == 'm') return 4;
  if (f.kind == 'p' || f.kind == 'f') return 3;
  if (f.has_children) return 2;
  if (f.kind == 'S') return 1;
  return 0;
}

}  // namespace

struct pg_catalog::rows {
  pq::result result{nullptr, &PQclear};
  int count() const { return PQntuples(result.get()); }
  bool null(int row, int col) const { return PQgetisnull(result.get(), row, col) != 0; }
  std::string value(int row, int col) const { return PQgetvalue(result.get(), row, col); }
};

pg_catalog::pg_catalog(std::string conninfo, std::chrono::milliseconds ttl)
    : conninfo_(std::move(conninfo)), ttl_(ttl) {}

pg_catalog::~pg_catalog() = default;

void pg_catalog::clear() {
  std::lock_guard lock(mutex_);
  functions_.clear();
  relations_.clear();
}

pg_catalog::rows pg_catalog::query(const char* sql, const relation_name& name) {
  for (int attempt = 0;; ++attempt) {
    try {
      if (!conn_) conn_ = pq::connect(conninfo_, "obs_proxy catalog", &stop_);
      rows r;
      r.result = pq::exec(conn_.get(), sql, {name.name.c_str(), name.schema.c_str()}, PGRES_TUPLES_OK,
                          std::chrono::seconds(10), &stop_);
      return r;
    } catch (const pq::error& e) {
      // A broken connection (the origin restarted) is worth one new one.
      const bool broken = !conn_ || PQstatus(conn_.get()) != CONNECTION_OK || e.sqlstate.empty();
      if (broken) conn_.reset();
      if (!broken || attempt == 1) throw std::runtime_error(std::string("catalog lookup failed: ") + e.what());
    }
  }
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
    bool writes_elsewhere = false;
    for (int i = 0; i < r.count(); ++i) {
      relation_facts f{true, r.value(i, 0)[0], r.value(i, 1)[0], r.value(i, 2), r.value(i, 3) == "t",
                       r.value(i, 4) == "t"};
      writes_elsewhere |= f.writes_elsewhere;
      if (!best.found || rank(f) > rank(best)) best = f;
    }
    best.writes_elsewhere = writes_elsewhere;
    return best;
  });
}

}  // namespace proxy
