// A randomized differential test of obs_proxy against PostgreSQL itself.
//
// Several logical sessions each hold a PAIR of connections: P through the
// proxy and D straight to PostgreSQL, kept in the same session state by
// running every state-changing statement (SET, set_config, SET ROLE,
// transactions, temp tables, prepared statements, DISCARD) on both, in the
// same order. Writes to shared tables happen once, through P (so the session
// must read its own writes) or through an outside connection. Every read runs
// on P, then on D, and the two answers must agree byte for byte, errors
// included (same SQLSTATE).
//
// The promise allows one difference: a change made by ANOTHER session (or
// straight on PostgreSQL) may show up to B late. So a mismatch is a failure
// when nobody but the reading session wrote a table the read depends on in
// the last B; otherwise the read is repeated until B has passed since that
// write, and must agree by then. (The brief's rule, per table: a write to a
// table the read does not depend on excuses nothing.)
//
// Environment:
//   OBS_DIFF_SEED     reproduce a run (the seed is printed either way)
//   OBS_DIFF_SECONDS  how long to generate operations (default 20)
//   OBS_DIFF_REPORTS  how many failing statements to report in full, the
//                     first failure of each (default 8)
//   OBS_DIFF_BYPASS=1 P goes straight to PostgreSQL too: a control run that
//                     checks the harness itself, which must then pass
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "support.hpp"

using namespace proxy_test;

namespace {

using steady = std::chrono::steady_clock;

// The staleness bound: generous, since a CI machine under sanitizers is slow
// (the proxy polls its change feed every 50 ms).
constexpr std::chrono::milliseconds staleness_bound{3000};
constexpr int session_count = 4;
constexpr int outside_writer = -1;  // the writer id of the direct connection

constexpr Oid int8_oid = 20, int4_oid = 23, text_oid = 25, float8_oid = 701;

double seconds_between(steady::time_point a, steady::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

// ---- results ----------------------------------------------------------------

// What one statement answered, complete enough to compare byte for byte:
// status, SQLSTATE, command tag, column metadata, every value and NULL. The
// column's table OID is left out on purpose: P's and D's temp tables are two
// different tables with equal contents.
struct outcome {
  ExecStatusType status = PGRES_EMPTY_QUERY;
  std::string sqlstate;
  std::string message;  // for reports only: not compared
  std::string command;
  std::vector<std::tuple<std::string, Oid, int, int>> columns;  // name, type, typmod, format
  std::vector<std::vector<std::optional<std::string>>> rows;

  bool agrees_with(const outcome& o) const {
    return status == o.status && sqlstate == o.sqlstate && command == o.command && columns == o.columns &&
           rows == o.rows;
  }
  bool failed() const { return status == PGRES_FATAL_ERROR || status == PGRES_NONFATAL_ERROR; }
};

outcome capture(const PGresult* r, PGconn* conn) {
  outcome o;
  if (!r) {
    o.status = PGRES_FATAL_ERROR;
    o.message = PQerrorMessage(conn);
    return o;
  }
  o.status = PQresultStatus(r);
  if (o.failed()) {
    const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    o.sqlstate = state ? state : "";
    o.message = PQresultErrorMessage(r);
    while (!o.message.empty() && o.message.back() == '\n') o.message.pop_back();
  }
  o.command = PQcmdStatus(const_cast<PGresult*>(r));
  if (o.status != PGRES_TUPLES_OK) return o;
  for (int c = 0; c < PQnfields(r); ++c)
    o.columns.emplace_back(PQfname(r, c), PQftype(r, c), PQfmod(r, c), PQfformat(r, c));
  for (int i = 0; i < PQntuples(r); ++i) {
    auto& row = o.rows.emplace_back();
    for (int c = 0; c < PQnfields(r); ++c) {
      if (PQgetisnull(r, i, c))
        row.emplace_back(std::nullopt);
      else
        row.emplace_back(std::string(PQgetvalue(r, i, c), static_cast<std::size_t>(PQgetlength(r, i, c))));
    }
  }
  return o;
}

std::string printable(const std::string& bytes, int format) {
  if (format == 0) return bytes;
  static const char* hex = "0123456789abcdef";
  std::string out = "\\x";
  for (unsigned char ch : bytes) {
    out += hex[ch >> 4];
    out += hex[ch & 15];
  }
  return out;
}

std::string show_row(const outcome& o, std::size_t i) {
  std::string out = "(";
  for (std::size_t c = 0; c < o.rows[i].size(); ++c)
    out += (c ? ", " : "") + (o.rows[i][c] ? printable(*o.rows[i][c], std::get<3>(o.columns[c])) : "NULL");
  return out + ")";
}

// Where two row sets first part, for results longer than a report shows.
std::string first_difference(const outcome& p, const outcome& d) {
  if (p.status != PGRES_TUPLES_OK || d.status != PGRES_TUPLES_OK || p.columns != d.columns) return "";
  for (std::size_t i = 0; i < p.rows.size() || i < d.rows.size(); ++i) {
    if (i < p.rows.size() && i < d.rows.size() && p.rows[i] == d.rows[i]) continue;
    return "row " + std::to_string(i + 1) + ": proxy " + (i < p.rows.size() ? show_row(p, i) : "(none)") +
           ", postgresql " + (i < d.rows.size() ? show_row(d, i) : "(none)");
  }
  return "";
}

std::string show(const outcome& o) {
  std::ostringstream out;
  if (o.failed()) {
    out << "ERROR " << (o.sqlstate.empty() ? "(no SQLSTATE)" : o.sqlstate) << ": " << o.message;
    return out.str();
  }
  out << PQresStatus(o.status) << " \"" << o.command << "\"";
  if (o.status != PGRES_TUPLES_OK) return out.str();
  out << " columns(";
  for (std::size_t c = 0; c < o.columns.size(); ++c) {
    const auto& [name, type, typmod, format] = o.columns[c];
    out << (c ? ", " : "") << name << ":" << type << (typmod >= 0 ? "(" + std::to_string(typmod) + ")" : "")
        << (format ? "/binary" : "");
  }
  out << ") rows:";
  constexpr std::size_t shown = 10;
  for (std::size_t i = 0; i < o.rows.size() && i < shown; ++i) out << " " << show_row(o, i);
  if (o.rows.size() > shown) out << " ... (" << o.rows.size() << " rows)";
  return out.str();
}

// ---- statements -------------------------------------------------------------

// One statement as a client sends it: a simple Query, an extended-protocol
// execution with explicit parameter types (PQexecParams), or a named
// prepared statement's Parse (PQprepare) or execution (PQexecPrepared).
struct statement {
  enum class kind { simple, params, prepare, execute } how = kind::simple;
  std::string sql;   // simple, params, prepare
  std::string name;  // prepare, execute
  std::vector<Oid> types;
  std::vector<std::optional<std::string>> values;
  int result_format = 0;

  static statement simple(std::string sql) { return {kind::simple, std::move(sql), {}, {}, {}, 0}; }

  std::string show() const {
    std::ostringstream out;
    auto list_types = [&] {
      out << " types=(";
      for (std::size_t i = 0; i < types.size(); ++i)
        out << (i ? "," : "") << (types[i] ? std::to_string(types[i]) : "unspecified");
      out << ")";
    };
    auto list_values = [&] {
      out << " values=(";
      for (std::size_t i = 0; i < values.size(); ++i)
        out << (i ? "," : "") << (values[i] ? "'" + *values[i] + "'" : "NULL");
      out << ") result_format=" << result_format;
    };
    switch (how) {
      case kind::simple:
        out << "[simple] " << sql;
        break;
      case kind::params:
        out << "[extended] " << sql;
        list_types();
        list_values();
        break;
      case kind::prepare:
        out << "[prepare " << name << "] " << sql;
        list_types();
        break;
      case kind::execute:
        out << "[execute " << name << "]";
        list_values();
        break;
    }
    return out.str();
  }
};

outcome run(connection& c, const statement& s) {
  std::vector<const char*> values;
  for (const auto& v : s.values) values.push_back(v ? v->c_str() : nullptr);
  const int n = static_cast<int>(s.values.size());
  PGresult* r = nullptr;
  switch (s.how) {
    case statement::kind::simple:
      r = PQexec(c.get(), s.sql.c_str());
      break;
    case statement::kind::params:
      r = PQexecParams(c.get(), s.sql.c_str(), n, s.types.data(), values.data(), nullptr, nullptr, s.result_format);
      break;
    case statement::kind::prepare:
      r = PQprepare(c.get(), s.name.c_str(), s.sql.c_str(), static_cast<int>(s.types.size()), s.types.data());
      break;
    case statement::kind::execute:
      r = PQexecPrepared(c.get(), s.name.c_str(), n, values.data(), nullptr, nullptr, s.result_format);
      break;
  }
  result owned(r, &PQclear);
  return capture(owned.get(), c.get());
}

// ---- the schema -------------------------------------------------------------

// Two non-superuser roles (superusers bypass row-level security): `a` may
// read and write public and s1, `b` may only read public. Roles belong to the
// whole server, so their names are unique and they go when the test ends
// (after the database that grants to them).
struct roles {
  std::string a = "diff_a_" + unique_suffix();
  std::string b = "diff_b_" + unique_suffix();
  roles() {
    connection admin(require_env("OBS_TEST_PG_URL"));
    admin.exec("CREATE ROLE " + a + " NOLOGIN; CREATE ROLE " + b + " NOLOGIN");
  }
  ~roles() {
    // No Catch macros here: this may run while a failure unwinds.
    PGconn* admin = PQconnectdb(env_or("OBS_TEST_PG_URL", "").c_str());
    if (PQstatus(admin) == CONNECTION_OK) PQclear(PQexec(admin, ("DROP ROLE IF EXISTS " + a + ", " + b).c_str()));
    PQfinish(admin);
  }
  roles(const roles&) = delete;
  roles& operator=(const roles&) = delete;
};

// Every kind of write the promise names, each with a shared table to change
// and a way to reach it: the same table name in three schemas (search_path
// and temp tables decide what `items` means), a trigger, ON DELETE CASCADE,
// an updatable view, a writing function and procedure, inheritance, a
// sequence and row-level security. Functions name their tables with the
// schema so that they work under any search_path.
void create_schema(connection& c, const roles& r) {
  c.exec(R"sql(
    CREATE SCHEMA s1;
    CREATE SCHEMA s2;
    CREATE TABLE public.items (id int PRIMARY KEY, v int);
    CREATE TABLE s1.items (id int PRIMARY KEY, v int);
    CREATE TABLE s2.items (id int PRIMARY KEY, v int);
    INSERT INTO public.items SELECT g, g * 10 FROM generate_series(1, 5) g;
    INSERT INTO s1.items SELECT g, g * 100 FROM generate_series(1, 4) g;
    INSERT INTO s2.items SELECT g, g * 1000 FROM generate_series(1, 3) g;
    -- Like items, but never shadowed by a temp table, and missing from s1.
    CREATE TABLE public.stock (id int PRIMARY KEY, v int);
    CREATE TABLE s2.stock (id int PRIMARY KEY, v int);
    INSERT INTO public.stock SELECT g, g FROM generate_series(1, 4) g;
    INSERT INTO s2.stock SELECT g, -g FROM generate_series(1, 6) g;

    CREATE TABLE trig_src (id serial PRIMARY KEY, v int);
    CREATE TABLE trig_log (id serial PRIMARY KEY, src_id int, v int);
    CREATE FUNCTION log_src() RETURNS trigger LANGUAGE plpgsql AS
      $$BEGIN INSERT INTO public.trig_log (src_id, v) VALUES (NEW.id, NEW.v); RETURN NEW; END$$;
    CREATE TRIGGER trig_src_log AFTER INSERT OR UPDATE ON trig_src FOR EACH ROW EXECUTE FUNCTION log_src();
    INSERT INTO trig_src (v) VALUES (1), (2);

    CREATE TABLE orders (id int PRIMARY KEY);
    CREATE TABLE order_lines (id serial PRIMARY KEY, order_id int NOT NULL REFERENCES orders ON DELETE CASCADE,
                              qty int);
    INSERT INTO orders SELECT generate_series(1, 4);
    INSERT INTO order_lines (order_id, qty) SELECT g % 4 + 1, g FROM generate_series(1, 8) g;

    CREATE VIEW items_view AS SELECT id, v FROM public.items;

    CREATE TABLE counters (id int PRIMARY KEY, n int NOT NULL);
    INSERT INTO counters VALUES (1, 0), (2, 0);
    CREATE FUNCTION bump_counter(k int) RETURNS int VOLATILE LANGUAGE plpgsql AS
      $$DECLARE r int; BEGIN UPDATE public.counters SET n = n + 1 WHERE id = k RETURNING n INTO r; RETURN r; END$$;
    CREATE TABLE notes (id serial PRIMARY KEY, body text);
    CREATE PROCEDURE add_note(b text) LANGUAGE plpgsql AS
      $$BEGIN INSERT INTO public.notes (body) VALUES (b); END$$;

    CREATE TABLE animals (id int PRIMARY KEY, name text);
    CREATE TABLE dogs (breed text, PRIMARY KEY (id)) INHERITS (animals);
    INSERT INTO animals VALUES (1, 'cat'), (2, 'owl');
    INSERT INTO dogs VALUES (11, 'rex', 'collie');

    CREATE SEQUENCE seq;

    CREATE TABLE docs (id int PRIMARY KEY, tenant text NOT NULL, body text);
    INSERT INTO docs VALUES (1, 'a', 'a1'), (2, 'b', 'b1'), (3, 'a', 'a2');
    ALTER TABLE docs ENABLE ROW LEVEL SECURITY;
    CREATE POLICY by_tenant ON docs USING (tenant = current_setting('app.tenant', true));
  )sql");
  // `a` sees s2 but none of its tables (permission denied), `b` not even s1.
  c.exec("GRANT USAGE ON SCHEMA s1, s2 TO " + r.a);
  c.exec("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public, s1 TO " + r.a);
  c.exec("GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO " + r.a);
  c.exec("GRANT SELECT ON ALL TABLES IN SCHEMA public TO " + r.b);
}

// The shared tables a statement depends on or changes, by name. `items` and
// `stock` exist in several schemas: unqualified, they mean what the session's
// search_path (and its temp tables) say, so they are resolved on D when the
// statement runs. (A temp table needs no entry: temp tables are per
// connection, and their writes are mirrored.)
const std::string unqualified_items = "items";
bool is_ambiguous(const std::string& table) { return table == "items" || table == "stock"; }

// Tables written together (a trigger, a cascade, a DO block) form one group,
// and each group has one writer at a time: see differential::assign_owners.
std::string group_of(const std::string& table) {
  static const std::map<std::string, std::string> groups{
      {"trig_src", "trigger"},  {"trig_log", "trigger"}, {"orders", "cascade"},      {"order_lines", "cascade"},
      {"counters", "routines"}, {"notes", "routines"},   {"animals", "inheritance"}, {"dogs", "inheritance"}};
  auto g = groups.find(table);
  return g == groups.end() ? table : g->second;
}

const std::vector<std::string> all_groups{"public.items", "s1.items", "s2.items", "public.stock",
                                          "s2.stock",     "trigger",  "cascade",  "routines",
                                          "inheritance",  "seq",      "docs"};

struct read_template {
  std::string sql;
  std::vector<std::string> deps;
  std::vector<Oid> param_types;  // extended templates (one parameter): the types to choose from
};

// Reads, simple protocol. Every ORDER BY covers every output column, so the
// order is PostgreSQL's to decide, not chance's.
std::vector<read_template> simple_reads() {
  return {
      {"SELECT id, v FROM items ORDER BY id, v", {unqualified_items}, {}},
      {"SELECT count(*) AS n, sum(v) AS total FROM items", {unqualified_items}, {}},
      {"SELECT id, v FROM items WHERE id IN (SELECT id FROM s1.items) ORDER BY id, v",
       {unqualified_items, "s1.items"},
       {}},
      {"SELECT id, v FROM public.items ORDER BY id", {"public.items"}, {}},
      {"SELECT id, v FROM s1.items ORDER BY id", {"s1.items"}, {}},
      {"SELECT id, v FROM s2.items ORDER BY id", {"s2.items"}, {}},
      {"SELECT id, v FROM pg_temp.items ORDER BY id, v", {}, {}},
      {"SELECT id, v FROM stock ORDER BY id", {"stock"}, {}},
      {"SELECT sum(v) AS total FROM stock", {"stock"}, {}},
      {"SELECT s.id, s.v, i.v AS item FROM stock s JOIN public.items i USING (id) ORDER BY s.id",
       {"stock", "public.items"},
       {}},
      {"SELECT id, v FROM items_view ORDER BY id", {"public.items"}, {}},
      {"SELECT id, v FROM trig_src ORDER BY id", {"trig_src"}, {}},
      {"SELECT id, src_id, v FROM trig_log ORDER BY id", {"trig_log"}, {}},
      {"SELECT count(*) FROM trig_log", {"trig_log"}, {}},
      {"SELECT o.id, count(l.id) AS lines FROM orders o LEFT JOIN order_lines l ON l.order_id = o.id "
       "GROUP BY o.id ORDER BY o.id",
       {"orders", "order_lines"},
       {}},
      {"SELECT id, order_id, qty FROM order_lines ORDER BY id", {"order_lines"}, {}},
      {"SELECT id, n FROM counters ORDER BY id", {"counters"}, {}},
      {"SELECT i.id, i.v, c.n FROM public.items i JOIN counters c ON c.id = i.id ORDER BY i.id",
       {"public.items", "counters"},
       {}},
      {"SELECT id, body FROM notes ORDER BY id", {"notes"}, {}},
      {"SELECT count(*) FROM notes", {"notes"}, {}},
      {"SELECT id, name FROM animals ORDER BY id, name", {"animals", "dogs"}, {}},
      {"SELECT count(*) FROM animals", {"animals", "dogs"}, {}},
      {"SELECT id, name FROM ONLY animals ORDER BY id, name", {"animals"}, {}},
      {"SELECT id, name, breed FROM dogs ORDER BY id", {"dogs"}, {}},
      {"SELECT last_value, is_called FROM seq", {"seq"}, {}},
      {"SELECT id, tenant, body FROM docs ORDER BY id", {"docs"}, {}},
      {"SELECT count(*) FROM docs", {"docs"}, {}},
      {"SELECT 1 AS one, 'x' || 'y' AS xy", {}, {}},
      {"SELECT current_setting('app.tenant', true) AS tenant", {}, {}},
      {"SELECT current_user AS who", {}, {}},
  };
}

// Reads with one parameter, for PQexecParams and named prepared statements.
// The parameter's declared type changes the answer (integer vs float
// division, the column's type) while the text and the bound value stay the
// same.
std::vector<read_template> parameterized_reads() {
  return {
      {"SELECT $1 / 2 AS half", {}, {0, int4_oid, float8_oid}},
      {"SELECT $1 AS x", {}, {0, int4_oid, float8_oid, text_oid}},
      {"SELECT id, v, v + $1 / 2 AS w FROM items ORDER BY id, v", {unqualified_items}, {0, int4_oid, float8_oid}},
      {"SELECT id, v FROM s1.items WHERE id = $1", {"s1.items"}, {0, int4_oid, int8_oid}},
      {"SELECT id, v FROM stock WHERE id <= $1 ORDER BY id", {"stock"}, {0, int4_oid}},
      {"SELECT id, tenant, body FROM docs WHERE id >= $1 ORDER BY id", {"docs"}, {0, int4_oid}},
      {"SELECT id, name FROM animals WHERE id >= $1 ORDER BY id, name", {"animals", "dogs"}, {0, int4_oid}},
      {"SELECT n + $1 AS n FROM counters WHERE id = 1", {"counters"}, {0, int4_oid, float8_oid}},
      {"SELECT count(*) FROM trig_log WHERE v > $1", {"trig_log"}, {0, int4_oid}},
  };
}

// A write to shared tables. `{k}` (an id 1..8), `{v}` (a value), `{c}` (a
// counter 1..2) and `{d}` (a dog id 11..18) are filled in at random.
struct write_template {
  std::string sql;
  std::vector<std::string> changes;  // `items` (unqualified) is resolved before the write
};

std::vector<write_template> shared_writes() {
  return {
      {"INSERT INTO public.items VALUES ({k}, {v}) ON CONFLICT (id) DO UPDATE SET v = EXCLUDED.v", {"public.items"}},
      {"DELETE FROM public.items WHERE id = {k}", {"public.items"}},
      {"INSERT INTO s1.items VALUES ({k}, {v}) ON CONFLICT (id) DO UPDATE SET v = EXCLUDED.v", {"s1.items"}},
      {"UPDATE s1.items SET v = v + 1 WHERE id = {k}", {"s1.items"}},
      {"INSERT INTO s2.items VALUES ({k}, {v}) ON CONFLICT (id) DO NOTHING", {"s2.items"}},
      {"DELETE FROM s2.items WHERE id = {k}", {"s2.items"}},
      {"UPDATE items SET v = v + 1 WHERE id = {k}", {unqualified_items}},
      {"INSERT INTO public.stock VALUES ({k}, {v}) ON CONFLICT (id) DO UPDATE SET v = EXCLUDED.v", {"public.stock"}},
      {"DELETE FROM s2.stock WHERE id = {k}", {"s2.stock"}},
      {"INSERT INTO s2.stock VALUES ({k}, {v}) ON CONFLICT (id) DO UPDATE SET v = EXCLUDED.v", {"s2.stock"}},
      {"INSERT INTO items VALUES ({k}, {v})", {unqualified_items}},
      {"DELETE FROM items WHERE id = {k}", {unqualified_items}},
      {"UPDATE items_view SET v = v + 7 WHERE id = {k}", {"public.items"}},
      {"DELETE FROM items_view WHERE id = {k}", {"public.items"}},
      {"INSERT INTO items_view VALUES ({k}, {v})", {"public.items"}},
      {"INSERT INTO public.trig_src (v) VALUES ({v})", {"trig_src", "trig_log"}},
      {"UPDATE public.trig_src SET v = v + 1 WHERE id = {k}", {"trig_src", "trig_log"}},
      {"DELETE FROM public.orders WHERE id = {k}", {"orders", "order_lines"}},
      {"INSERT INTO public.orders VALUES ({k}) ON CONFLICT DO NOTHING", {"orders"}},
      {"INSERT INTO public.order_lines (order_id, qty) SELECT id, {v} FROM public.orders WHERE id = {k}",
       {"order_lines"}},
      {"SELECT public.bump_counter({c})", {"counters"}},
      {"CALL public.add_note('n{v}')", {"notes"}},
      {"DO $$BEGIN UPDATE public.counters SET n = n + 10 WHERE id = 2; "
       "INSERT INTO public.notes (body) VALUES ('do {v}'); END$$",
       {"counters", "notes"}},
      {"DO $$BEGIN INSERT INTO public.trig_src (v) VALUES ({v}); END$$", {"trig_src", "trig_log"}},
      {"INSERT INTO public.dogs VALUES ({d}, 'dog{v}', 'mutt') ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name",
       {"dogs"}},
      {"DELETE FROM public.dogs WHERE id = {d}", {"dogs"}},
      {"UPDATE public.animals SET name = name || '!' WHERE id IN ({k}, {d})", {"animals", "dogs"}},
      {"INSERT INTO public.animals VALUES ({k}, 'a{v}') ON CONFLICT (id) DO NOTHING", {"animals"}},
      {"SELECT nextval('public.seq')", {"seq"}},
      {"SELECT setval('public.seq', {v})", {"seq"}},
      {"INSERT INTO public.docs VALUES ({k}, 'a', 'd{v}') ON CONFLICT (id) DO UPDATE SET body = EXCLUDED.body",
       {"docs"}},
      {"UPDATE public.docs SET body = body || '+' WHERE id = {k}", {"docs"}},
      {"DELETE FROM public.docs WHERE id = {k}", {"docs"}},
  };
}

// Session state, run on P and D alike. Roles are filled in by the caller.
std::vector<std::string> session_settings(const roles& r) {
  return {
      "SET search_path = s1, public",
      "SET search_path = s2",
      "SET search_path = public",
      "SET search_path = s1, pg_temp",
      "SET search_path = nosuch",
      "RESET search_path",
      "SELECT set_config('search_path', 's1', false)",
      "SELECT set_config('search_path', 's2, public', false)",
      "SELECT set_config('search_path', 'public', true)",
      "SET app.tenant = 'a'",
      "SET app.tenant = 'b'",
      "RESET app.tenant",
      "SELECT set_config('app.tenant', 'a', false)",
      "SELECT set_config('app.tenant', 'b', false)",
      "SELECT set_config('app.tenant', 'b', true)",
      "SET ROLE " + r.a,
      "SET ROLE " + r.b,
      "RESET ROLE",
      "SELECT set_config('role', '" + r.a + "', false)",
      "SELECT set_config('role', '" + r.b + "', false)",
      "DISCARD ALL",
  };
}

// What a client may run right after connecting (a pool's setup), several
// ways to the same state and the same text to different states: with
// sessions reconnecting now and then, fresh sessions that ran different
// setups meet often, and the proxy must tell them apart by what holds, not
// by what was sent.
std::vector<std::vector<std::string>> connection_setups(const roles& r) {
  return {
      {},
      {"SET search_path = s2"},
      {"BEGIN", "SET search_path = s2", "ROLLBACK"},
      {"BEGIN", "SAVEPOINT sp", "SET search_path = s2", "ROLLBACK TO SAVEPOINT sp", "COMMIT"},
      {"SELECT set_config('search_path', 's2', false)"},
      {"SET search_path = s2", "DISCARD ALL"},
      {"SET app.tenant = 'a'"},
      {"BEGIN", "SET app.tenant = 'a'", "ROLLBACK"},
      {"SELECT set_config('app.tenant', 'a', false)"},
      {"SET ROLE " + r.a},
      {"BEGIN", "SET ROLE " + r.a, "ROLLBACK"},
      {"SELECT set_config('role', '" + r.a + "', false)"},
      {"SELECT set_config('role', '" + r.b + "', false)"},
      {"SELECT id, v + 1 AS v INTO TEMP TABLE items FROM public.items"},
      {"DO $$BEGIN CREATE TEMP TABLE items AS SELECT id, v + 2 AS v FROM s1.items; END$$"},
  };
}

// Only meaningful inside a transaction block.
std::vector<std::string> transaction_settings(const roles& r) {
  return {
      "SET LOCAL search_path = s2",
      "SET LOCAL search_path = s1, public",
      "SET LOCAL app.tenant = 'b'",
      "SET LOCAL ROLE " + r.a,
      "SELECT set_config('search_path', 's1', true)",
      "SAVEPOINT sp",
      "ROLLBACK TO SAVEPOINT sp",
      "RELEASE SAVEPOINT sp",
  };
}

// Temp tables named like the shared ones shadow them wherever pg_temp comes
// first in the search_path (the default). CREATE TEMP TABLE is DDL, which
// empties the proxy's whole cache, so it is the rarest way here.
const std::string create_temp = "CREATE TEMP TABLE items (id int PRIMARY KEY, v int)";
const std::vector<std::string> temp_creations_without_ddl{
    "SELECT id, v + 1 AS v INTO TEMP TABLE items FROM public.items",
    "DO $$BEGIN CREATE TEMP TABLE items AS SELECT id, v + 2 AS v FROM s1.items; END$$",
};
const std::vector<std::string> temp_writes{
    "INSERT INTO pg_temp.items VALUES ({k}, {v})",
    "UPDATE pg_temp.items SET v = v + 1 WHERE id = {k}",
    "DELETE FROM pg_temp.items WHERE id = {k}",
};

const std::vector<std::string> prepared_names{"q0", "q1", "q2"};

// ---- one logical session ----------------------------------------------------

struct logical_session {
  int id = 0;
  std::unique_ptr<connection> p;  // through the proxy
  std::unique_ptr<connection> d;  // straight to PostgreSQL
  // What this session ran that changes state or data, for failure reports.
  std::deque<std::string> history;
  // Named prepared statement -> index into parameterized_reads(), as D says.
  std::map<std::string, std::size_t> prepared;

  void remember(const std::string& what) {
    constexpr std::size_t kept = 12;
    history.push_back(what);
    if (history.size() > kept) history.pop_front();
  }
  bool in_transaction() const { return PQtransactionStatus(d->get()) != PQTRANS_IDLE; }
};

// How a dead obs_proxy child ended, read from /proc before anyone reaps it:
// field 52 of a zombie's stat is its wait status.
std::string how_the_proxy_ended() {
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::ifstream in(entry.path() / "stat");
    std::string stat;
    if (!std::getline(in, stat) || stat.find("(obs_proxy)") == std::string::npos) continue;
    std::istringstream fields(stat.substr(stat.rfind(')') + 2));  // from field 3, the state
    std::vector<std::string> f{std::istream_iterator<std::string>(fields), std::istream_iterator<std::string>()};
    if (f.size() < 50 || f[1] != std::to_string(getpid())) continue;  // f[1]: the parent
    if (f[0] != "Z") return "its process is still there, in state " + f[0];
    const int status = std::stoi(f[49]);
    if (WIFSIGNALED(status)) return std::string("killed by signal ") + strsignal(WTERMSIG(status));
    return "exited with status " + std::to_string(WEXITSTATUS(status));
  }
  return "no obs_proxy child found";
}

// ---- the run ----------------------------------------------------------------

// P's connection is gone: the operation at hand is abandoned.
struct connection_lost : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The run is a series of cycles:
//  - a write phase: each group of shared tables gets one writer (a session,
//    or the outside connection), and only that writer writes it. So the
//    writer's own reads of its tables are held to read-your-writes exactly,
//    while the other sessions may see its changes up to B late;
//  - a settle phase without shared writes;
//  - filler reads until B has passed since the last shared write;
//  - a strict phase without shared writes, where every read must agree
//    exactly: whatever the proxy serves now, it had B to get right.
// Phases are counted in operations, not seconds, so that a seed replays the
// same operations; only the filler reads (which change nothing) depend on
// the clock, and they draw from a random generator of their own.
class differential {
 public:
  differential(std::uint64_t seed, const std::string& through, const std::string& direct, const roles& r,
               std::function<bool()> proxy_alive)
      : seed_(seed),
        rng_(seed),
        filler_rng_(seed ^ 0x9e3779b97f4a7c15ULL),
        through_(through),
        direct_(direct),
        proxy_alive_(std::move(proxy_alive)),
        outside_(direct),
        settings_(session_settings(r)),
        txn_settings_(transaction_settings(r)),
        setups_(connection_setups(r)) {
    start_ = steady::now();
    for (int i = 0; i < session_count; ++i) {
      auto& s = sessions_.emplace_back();
      s.id = i;
      reconnect(s);
    }
  }

  void run_for(double seconds) {
    constexpr std::size_t write_ops = 1000, settle_ops = 200, strict_ops = 800;
    const auto end = start_ + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(seconds));
    while (steady::now() < end) {
      ++n_.cycles;
      assign_owners();
      phase("write", write_ops, true, end);
      phase("settle", settle_ops, false, end);
      wait_out_bound(end);
      phase("strict", strict_ops, false, end);
    }
    for (auto& s : sessions_)
      if (s.in_transaction()) guarded(s, [&] { mirror(s, statement::simple("ROLLBACK")); });
  }

  struct counts {
    std::size_t cycles = 0, operations = 0, reads = 0, strict_reads = 0, filler_reads = 0, mirrored = 0;
    std::size_t writes = 0, outside_writes = 0, window_mismatches = 0, converged = 0, failures = 0;
    double waited_s = 0;  // re-reading mismatches within the window
  };
  const counts& totals() const { return n_; }
  const std::vector<std::string>& reports() const { return reports_; }
  const std::map<std::string, std::size_t>& failures_by_label() const { return by_label_; }

 private:
  // ---- randomness ----
  int between(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  template <class T>
  const T& pick(const std::vector<T>& v) {
    return v[static_cast<std::size_t>(between(0, static_cast<int>(v.size()) - 1))];
  }
  logical_session& any_session() { return sessions_[static_cast<std::size_t>(between(0, session_count - 1))]; }

  // Fills the {k}/{v}/{c}/{d} placeholders of a template.
  std::string fill(std::string sql) {
    const std::map<std::string, std::pair<int, int>> ranges{
        {"{k}", {1, 8}}, {"{v}", {1, 999}}, {"{c}", {1, 2}}, {"{d}", {11, 18}}};
    for (const auto& [slot, range] : ranges)
      for (auto at = sql.find(slot); at != std::string::npos; at = sql.find(slot))
        sql.replace(at, slot.size(), std::to_string(between(range.first, range.second)));
    return sql;
  }

  double now_s() const { return seconds_between(start_, steady::now()); }

  // ---- phases ----
  void assign_owners() {
    std::ostringstream text;
    for (const auto& g : all_groups) {
      owner_[g] = between(outside_writer, session_count - 1);
      text << (text.tellp() > 0 ? ", " : "") << g << ": "
           << (owner_[g] == outside_writer ? "outside" : "session " + std::to_string(owner_[g]));
    }
    owners_text_ = text.str();
  }

  void phase(const char* name, std::size_t ops, bool writes, steady::time_point end) {
    phase_ = name;
    for (std::size_t i = 0; i < ops && steady::now() < end; ++i) step(writes);
  }

  void wait_out_bound(steady::time_point end) {
    phase_ = "filler";
    const auto until = last_shared_write_ + staleness_bound + std::chrono::milliseconds(100);
    std::swap(rng_, filler_rng_);
    while (steady::now() < until && steady::now() < end) {
      ++n_.filler_reads;
      auto& s = any_session();
      guarded(s, [&] { random_read(s); });
    }
    std::swap(rng_, filler_rng_);
  }

  // ---- the operation mix ----
  void step(bool writes) {
    ++n_.operations;
    auto& s = any_session();
    const int roll = between(0, 99);
    guarded(s, [&] { operation(s, roll, writes); });
  }

  // The mix, in percent. Outside the write phase, the shares of shared
  // writes go to reads.
  void operation(logical_session& s, int roll, bool writes) {
    if (roll < 37) return random_read(s);
    if (roll < 50) return state_change(s);
    if (roll < 56) return temp_op(s);
    if (roll < 58) return chance(0.5) ? reconnect(s) : random_read(s);  // a reconnection costs ~30 ms
    if (roll < 62) return prepare(s);
    if (roll < 68) return execute_prepared(s);
    if (roll < 94 && !writes) return random_read(s);
    if (roll < 82) return session_write(s);
    if (roll < 88) return outside_write();
    if (roll < 94) return write_transaction(s);
    return transaction_boundary(s);
  }

  // A random read, sometimes twice in a row so that the second can be a hit.
  void random_read(logical_session& s) {
    const read_template& t = chance(0.75) ? pick(simple_reads_) : pick(param_reads_);
    const statement st = t.param_types.empty() ? statement::simple(t.sql) : extended(t);
    read(s, st, t.deps);
    if (chance(0.4)) read(s, st, t.deps);
  }

  // Few distinct values, so that executions repeat and hit.
  std::optional<std::string> random_value() {
    if (chance(0.05)) return std::nullopt;
    return std::to_string(between(1, 6));
  }

  statement extended(const read_template& t) {
    statement st;
    st.how = statement::kind::params;
    st.sql = t.sql;
    st.types = {pick(t.param_types)};
    st.values = {random_value()};
    st.result_format = between(0, 1);
    return st;
  }

  void state_change(logical_session& s) {
    const bool local = s.in_transaction() && chance(0.4);
    mirror(s, statement::simple(pick(local ? txn_settings_ : settings_)));
  }

  void temp_op(logical_session& s) {
    const int roll = between(0, 99);
    std::string sql;
    if (roll < 5)
      sql = create_temp;
    else if (roll < 30)
      sql = pick(temp_creations_without_ddl);
    else if (roll < 50)
      sql = "DISCARD TEMP";
    else
      sql = fill(pick(temp_writes));
    mirror(s, statement::simple(sql));
  }

  // A new pair of connections: fresh session state on both sides, which the
  // proxy must not confuse with another session's; often set up at once.
  void reconnect(logical_session& s) {
    s.p = std::make_unique<connection>(through_);
    s.d = std::make_unique<connection>(direct_);
    s.history.clear();
    s.prepared.clear();
    s.remember("[new connections]");
    if (chance(0.3)) return;
    for (const auto& sql : pick(setups_)) mirror(s, statement::simple(sql));
  }

  void prepare(logical_session& s) {
    const std::size_t which = static_cast<std::size_t>(between(0, static_cast<int>(param_reads_.size()) - 1));
    statement st;
    st.how = statement::kind::prepare;
    st.name = pick(prepared_names);
    st.sql = param_reads_[which].sql;
    st.types = {pick(param_reads_[which].param_types)};
    // An existing name is an error (42P05) on both sides, which is worth
    // comparing too; only a success on D defines the name.
    if (mirror(s, st)) s.prepared[st.name] = which;
  }

  void execute_prepared(logical_session& s) {
    statement st;
    st.how = statement::kind::execute;
    st.name = pick(prepared_names);
    st.values = {random_value()};
    st.result_format = between(0, 1);
    // A name D does not know errors there; P must error too, and no table's
    // changes can excuse a difference.
    auto known = s.prepared.find(st.name);
    read(s, st, known == s.prepared.end() ? std::vector<std::string>{} : param_reads_[known->second].deps);
  }

  // BEGIN or COMMIT/ROLLBACK of a transaction that only changes session
  // state and reads (it may stay open across operations; shared writes never
  // happen inside it, so it holds no row locks another writer could wait on).
  void transaction_boundary(logical_session& s) {
    if (s.in_transaction()) return end_transaction(s);
    mirror(s, statement::simple("BEGIN"));
    // The classic: a SET inside a transaction that is then rolled back.
    if (chance(0.6)) mirror(s, statement::simple(pick(settings_)));
  }

  void end_transaction(logical_session& s) { mirror(s, statement::simple(chance(0.5) ? "COMMIT" : "ROLLBACK")); }

  // Read-your-writes: warm the cache with a read that depends on the
  // write's tables, write through P, read again at once.
  void session_write(logical_session& s) {
    const auto candidates = writable_by(s.id);
    if (candidates.empty()) return random_read(s);
    if (s.in_transaction()) end_transaction(s);
    const write_template& w = *pick(candidates);
    const read_template* probe = probe_for(s.id, w.changes);
    if (probe && chance(0.5)) {
      read(s, statement::simple(probe->sql), probe->deps);
      read(s, statement::simple(probe->sql), probe->deps);
    }
    write_through(s, w);
    if (probe && chance(0.8)) read(s, statement::simple(probe->sql), probe->deps);
  }

  // BEGIN; one to three writes (and maybe a SET LOCAL); COMMIT or ROLLBACK;
  // then, often, a read of what was written.
  void write_transaction(logical_session& s) {
    const auto candidates = writable_by(s.id);
    if (candidates.empty()) return random_read(s);
    if (s.in_transaction()) end_transaction(s);
    mirror(s, statement::simple("BEGIN"));
    std::vector<std::string> changed;
    for (int i = between(1, 3); i > 0; --i) {
      if (chance(0.15)) {
        mirror(s, statement::simple(pick(txn_settings_)));
        continue;
      }
      for (auto& t : write_through(s, *pick(candidates))) changed.push_back(t);
    }
    const bool commit = chance(0.7);
    mirror(s, statement::simple(commit ? "COMMIT" : "ROLLBACK"));
    if (commit) note_write(s.id, changed, "COMMIT");
    if (const read_template* probe = probe_for(s.id, changed); probe && chance(0.8))
      read(s, statement::simple(probe->sql), probe->deps);
  }

  void outside_write() {
    const auto candidates = writable_by(outside_writer);
    if (candidates.empty()) return;
    const write_template& w = *pick(candidates);
    const std::string sql = fill(w.sql);
    const auto changes = resolve(outside_, w.changes);
    if (!owns(outside_writer, changes)) return;
    outside_.try_exec(sql);
    ++n_.outside_writes;
    note_write(outside_writer, changes, sql);
  }

  // ---- who may write what ----

  // Every table's group belongs to `writer` in this cycle.
  bool owns(int writer, const std::vector<std::string>& tables) const {
    return std::all_of(tables.begin(), tables.end(), [&](const std::string& t) {
      auto o = owner_.find(group_of(t));
      return o != owner_.end() && o->second == writer;
    });
  }

  // The templates `writer` may pick; those on unqualified `items` are
  // checked again once resolved.
  std::vector<const write_template*> writable_by(int writer) const {
    std::vector<const write_template*> out;
    for (const auto& w : writes_) {
      std::vector<std::string> named;
      for (const auto& t : w.changes)
        if (!is_ambiguous(t)) named.push_back(t);
      if (owns(writer, named)) out.push_back(&w);
    }
    return out;
  }

  // A read of (some of) `tables`, preferably one that reads only tables the
  // session owns, so that any difference is a read-your-writes failure.
  const read_template* probe_for(int writer, const std::vector<std::string>& tables) {
    std::vector<const read_template*> any, owned;
    for (const auto& r : simple_reads_) {
      bool touches = false;
      std::vector<std::string> named;
      for (const auto& d : r.deps) {
        for (const auto& t : tables) touches = touches || t == d || (is_ambiguous(d) && t.ends_with("." + d));
        if (!is_ambiguous(d)) named.push_back(d);
      }
      if (!touches) continue;
      any.push_back(&r);
      if (owns(writer, named)) owned.push_back(&r);
    }
    if (!owned.empty()) return pick(owned);
    return any.empty() ? nullptr : pick(any);
  }

  // ---- running statements ----

  // Where the unqualified `name` resolves for this connection: a schema
  // name, "temp", or "" when it does not resolve (or the query fails, e.g.
  // in an aborted transaction, where the statement fails too).
  static std::string resolve_name(connection& c, const std::string& name) {
    auto r = c.try_exec(
        "SELECT CASE WHEN n.nspname LIKE 'pg_temp%' THEN 'temp' ELSE n.nspname END "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass('" +
        name + "')");
    if (PQresultStatus(r.get()) != PGRES_TUPLES_OK || PQntuples(r.get()) != 1) return "";
    return PQgetvalue(r.get(), 0, 0);
  }

  // `tables` with each unqualified ambiguous name replaced by the table it
  // resolves to on `c` (dropped for a temp table or nothing).
  static std::vector<std::string> resolve(connection& c, const std::vector<std::string>& tables) {
    std::vector<std::string> out;
    for (const auto& t : tables) {
      if (!is_ambiguous(t)) {
        out.push_back(t);
        continue;
      }
      const std::string at = resolve_name(c, t);
      if (!at.empty() && at != "temp") out.push_back(at + "." + t);
    }
    return out;
  }

  outcome on_proxy(logical_session& s, const statement& st) {
    outcome o = run(*s.p, st);
    if (PQstatus(s.p->get()) != CONNECTION_OK) {
      outcome not_run;
      not_run.command = "(not run: P's connection is gone)";
      const bool alive = proxy_alive_();
      record_failure(s, st, alive ? "the proxy closed this session's connection" : "the proxy process is gone", o,
                     not_run);
      if (!alive)
        FAIL("the proxy process is gone (" << how_the_proxy_ended() << "; seed " << seed_ << "), after session " << s.id
                                           << " sent " << st.show() << "\n  history:\n"
                                           << history(s));
      throw connection_lost("session " + std::to_string(s.id) + " lost its proxy connection");
    }
    return o;
  }

  // Runs one operation of `s`; a connection the proxy closed is a failure
  // (recorded already), after which the session starts over.
  template <class Operation>
  void guarded(logical_session& s, Operation&& op) {
    try {
      op();
    } catch (const connection_lost&) {
      reconnect(s);
    }
  }

  // One write to shared tables, through P only (a temp table is written on
  // both). Returns the shared tables it may have changed.
  std::vector<std::string> write_through(logical_session& s, const write_template& w) {
    const std::string sql = fill(w.sql);
    // D is in the same state as P, so it says what `items` means for P.
    const bool ambiguous = std::any_of(w.changes.begin(), w.changes.end(), is_ambiguous);
    const auto changes = resolve(*s.d, w.changes);
    if (ambiguous && changes.empty()) {
      mirror(s, statement::simple(sql));  // a temp table (or an error) on both sides
      return {};
    }
    if (!owns(s.id, changes)) return {};  // another writer's table in this cycle
    const outcome o = on_proxy(s, statement::simple(sql));
    ++n_.writes;
    s.remember("[write, P only] " + sql + (o.failed() ? "  -> ERROR " + o.sqlstate : ""));
    keep_transactions_aligned(s);
    note_write(s.id, changes, sql);
    return changes;
  }

  // A write that failed on P inside a transaction block aborts P's
  // transaction only; D's must be aborted too or every later statement would
  // differ for the harness's sake, not the proxy's.
  void keep_transactions_aligned(logical_session& s) {
    if (PQtransactionStatus(s.p->get()) == PQTRANS_INERROR && PQtransactionStatus(s.d->get()) == PQTRANS_INTRANS)
      s.d->try_exec("SELECT 1 / 0");
  }

  // Runs a state-changing statement on P and D; they must agree (it never
  // comes from the cache, and nothing ran in between). Returns whether it
  // succeeded on D.
  bool mirror(logical_session& s, const statement& st) {
    const outcome p = on_proxy(s, st);
    const outcome d = run(*s.d, st);
    ++n_.mirrored;
    s.remember(st.show() + (d.failed() ? "  -> ERROR " + d.sqlstate : ""));
    if (!p.agrees_with(d)) record_failure(s, st, "a state-changing statement answered differently", p, d);
    if (PQtransactionStatus(s.p->get()) != PQtransactionStatus(s.d->get()))
      record_failure(s, st, "the transaction status differs afterwards", p, d);
    if (!d.failed() && st.how == statement::kind::simple && st.sql == "DISCARD ALL") s.prepared.clear();
    return !d.failed();
  }

  // A read on P, then on D. See the file's comment for the rule.
  void read(logical_session& s, const statement& st, const std::vector<std::string>& template_deps) {
    const auto deps = resolve(*s.d, template_deps);
    outcome p = on_proxy(s, st);
    outcome d = run(*s.d, st);
    ++n_.reads;
    const auto other = last_other_write(s.id, deps);
    const bool strict = !other || steady::now() - *other >= staleness_bound;
    if (strict) ++n_.strict_reads;
    if (p.agrees_with(d)) return;
    if (strict) {
      record_failure(s, st, "differs, and no other session wrote what it reads within the bound" + since(other), p, d);
      return;
    }
    ++n_.window_mismatches;
    // Proving a difference outlives the bound takes the bound; a statement
    // that has failed already would only cost the time, not change the verdict.
    if (by_label_.count(label(s, st))) return;
    const auto waiting = steady::now();
    const bool converged = converges(s, st, *other + staleness_bound, p, d);
    n_.waited_s += seconds_between(waiting, steady::now());
    if (converged) {
      ++n_.converged;
      return;
    }
    record_failure(s, st, "still differs once the bound has passed since another session's write", p, d);
  }

  std::string since(const std::optional<steady::time_point>& t) const {
    if (!t) return " (nobody else ever wrote it)";
    std::ostringstream out;
    out << " (the last other write was " << seconds_between(*t, steady::now()) << " s ago)";
    return out.str();
  }

  // Repeats the read until P and D agree, or until `deadline` has passed
  // (then once more). Nothing else runs meanwhile.
  bool converges(logical_session& s, const statement& st, steady::time_point deadline, outcome& p, outcome& d) {
    for (;;) {
      const bool last = steady::now() >= deadline;
      if (!last) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      p = on_proxy(s, st);
      d = run(*s.d, st);
      if (p.agrees_with(d)) return true;
      if (last) return false;
    }
  }

  // ---- who wrote what, when ----

  void note_write(int writer, const std::vector<std::string>& tables, const std::string& sql) {
    const auto now = steady::now();
    for (const auto& t : tables) last_write_[t][writer] = now;
    last_shared_write_ = now;
    std::ostringstream line;
    line << "t=" << now_s() << "s " << (writer == outside_writer ? "outside" : "session " + std::to_string(writer))
         << ": " << sql;
    recent_writes_.push_back(line.str());
    if (recent_writes_.size() > 8) recent_writes_.pop_front();
  }

  // The latest write by anybody but `reader` to any of `tables`.
  std::optional<steady::time_point> last_other_write(int reader, const std::vector<std::string>& tables) const {
    std::optional<steady::time_point> latest;
    for (const auto& t : tables) {
      auto by_writer = last_write_.find(t);
      if (by_writer == last_write_.end()) continue;
      for (const auto& [writer, at] : by_writer->second)
        if (writer != reader && (!latest || at > *latest)) latest = at;
    }
    return latest;
  }

  // ---- failures ----

  std::string history(const logical_session& s) const {
    std::string out;
    for (const auto& h : s.history) out += "    " + h + "\n";
    return out;
  }

  // What groups failures in the summary: the statement without its values,
  // and for a prepared statement the text D knows it by.
  std::string label(const logical_session& s, const statement& st) const {
    std::string shown = st.show();
    shown = shown.substr(0, shown.find(" values="));
    if (st.how == statement::kind::execute) {
      auto known = s.prepared.find(st.name);
      shown += known == s.prepared.end() ? " (not prepared)" : " " + param_reads_[known->second].sql;
    }
    return shown;
  }

  // Counts every failure; keeps the full report of the first one of each
  // label (a bug tends to fail the same statement over and over).
  void record_failure(const logical_session& s, const statement& st, const std::string& why, const outcome& p,
                      const outcome& d) {
    ++n_.failures;
    if (by_label_[label(s, st)]++ > 0) return;
    std::ostringstream out;
    out << "MISMATCH at t=" << now_s() << "s, operation " << n_.operations << ", " << phase_ << " phase of cycle "
        << n_.cycles << ", session " << s.id << " (seed " << seed_ << "): " << why << "\n"
        << "  statement: " << st.show() << "\n"
        << "  proxy:      " << show(p) << "\n"
        << "  postgresql: " << show(d) << "\n";
    if (const auto where = first_difference(p, d); !where.empty()) out << "  first difference: " << where << "\n";
    out << "  session " << s.id << "'s history, oldest first:\n"
        << history(s) << "  writers this cycle: " << owners_text_ << "\n  recent writes to shared tables:\n";
    for (const auto& w : recent_writes_) out << "    " << w << "\n";
    reports_.push_back(out.str());
  }

  std::uint64_t seed_;
  std::mt19937_64 rng_, filler_rng_;
  const std::string through_, direct_;  // conninfos of P and D
  const std::function<bool()> proxy_alive_;
  connection outside_;
  std::vector<logical_session> sessions_;
  const std::vector<std::string> settings_, txn_settings_;
  const std::vector<std::vector<std::string>> setups_;
  const std::vector<read_template> simple_reads_ = simple_reads(), param_reads_ = parameterized_reads();
  const std::vector<write_template> writes_ = shared_writes();
  std::map<std::string, int> owner_;  // group -> its writer in this cycle
  std::string owners_text_;
  const char* phase_ = "";
  std::map<std::string, std::map<int, steady::time_point>> last_write_;  // table -> writer -> when
  steady::time_point last_shared_write_;
  std::deque<std::string> recent_writes_;
  steady::time_point start_;
  counts n_;
  std::vector<std::string> reports_;
  std::map<std::string, std::size_t> by_label_;
};

std::uint64_t choose_seed() {
  const std::string given = env_or("OBS_DIFF_SEED", "");
  if (!given.empty()) return std::stoull(given);
  std::random_device rd;
  return (static_cast<std::uint64_t>(rd()) << 32) | rd();
}

}  // namespace

TEST_CASE("randomized differential: every result through the proxy equals PostgreSQL's",
          "[integration][differential]") {
  const std::uint64_t seed = choose_seed();
  const double seconds = std::stod(env_or("OBS_DIFF_SECONDS", "20"));
  const auto shown = static_cast<std::size_t>(std::stoul(env_or("OBS_DIFF_REPORTS", "8")));
  const bool bypass = env_or("OBS_DIFF_BYPASS", "0") == "1";
  INFO("seed " << seed << " (rerun with OBS_DIFF_SEED=" << seed << ")");
  WARN("differential seed " << seed << ", " << seconds << " s"
                            << (bypass ? ", BYPASS: P goes straight to PostgreSQL" : ""));

  roles r;  // declared first: dropped after the database that grants to them
  test_database db;
  {
    connection setup(db.direct());
    create_schema(setup, r);
  }
  proxy_process proxy(db.direct(), db.name());
  proxy.wait_ready();

  const auto began = steady::now();
  differential::counts totals;
  std::vector<std::string> reports;
  std::map<std::string, std::size_t> failures_by_label;
  {
    // A connection the proxy drops is told apart from a proxy that died.
    auto alive = [&] { return http_get(proxy.metrics_port(), "/health/live").status != 0; };
    differential run(seed, bypass ? db.direct() : proxy.conninfo(db.name()), db.direct(), r, alive);
    run.run_for(seconds);
    totals = run.totals();
    reports = run.reports();
    failures_by_label = run.failures_by_label();
  }
  const auto scraped = http_get(proxy.metrics_port(), "/metrics");
  REQUIRE(scraped.status == 200);
  const double hits = metric(scraped.body, "pgcache_queries_total{status=\"cache_hit\"}");
  const double misses = metric(scraped.body, "pgcache_queries_total{status=\"cache_miss\"}");

  std::ostringstream summary;
  summary << "seed " << seed << ": " << totals.cycles << " cycles, " << totals.operations << " operations in "
          << seconds_between(began, steady::now()) << " s; " << totals.reads << " reads compared ("
          << totals.strict_reads << " held to exact equality, " << totals.filler_reads << " filler), "
          << totals.mirrored << " state statements mirrored, " << totals.writes << " writes through sessions, "
          << totals.outside_writes << " outside writes; " << hits << " cache hits, " << misses
          << " misses on /metrics; " << totals.window_mismatches << " mismatches within the staleness window ("
          << totals.converged << " converged in time, " << totals.waited_s << " s spent re-reading); "
          << totals.failures << " failures";
  for (const auto& [label, n] : failures_by_label) summary << "\n  " << n << " x " << label;
  WARN(summary.str());
  for (std::size_t i = 0; i < reports.size() && i < shown; ++i) FAIL_CHECK(reports[i]);
  if (!bypass) CHECK(hits > 0);  // a proxy that never caches would pass otherwise
  REQUIRE(totals.failures == 0);
}
