#include "classifier.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>
#include <utility>

#include <nlohmann/json.hpp>
#include <pg_query.h>

namespace proxy {

using json = nlohmann::json;

std::string_view status_name(status s) noexcept {
  switch (s) {
    case status::cache_hit: return "cache_hit";
    case status::cache_miss: return "cache_miss";
    case status::uncacheable: return "uncacheable";
    case status::unsupported: return "unsupported";
    case status::parse_error: return "parse_error";
  }
  return "unsupported";
}

std::string_view category_name(reason_category c) noexcept {
  switch (c) {
    case reason_category::non_deterministic_function: return "NonDeterministicFunction";
    case reason_category::volatile_function: return "VolatileFunction";
    case reason_category::mutable_cte: return "MutableCTE";
    case reason_category::writes_data: return "WritesData";
    case reason_category::system_catalog_query: return "SystemCatalogQuery";
    case reason_category::temp_table: return "TempTable";
    case reason_category::unlogged_table: return "UnloggedTable";
    case reason_category::unsupported_join: return "UnsupportedJoin";
    case reason_category::unsupported_subquery: return "UnsupportedSubquery";
    case reason_category::complex_expression: return "ComplexExpression";
    case reason_category::table_excluded: return "TableExcluded";
    case reason_category::query_pattern_excluded: return "QueryPatternExcluded";
  }
  return "ComplexExpression";
}

namespace {

// RAII for the three libpg_query results.
struct parse_result {
  PgQueryParseResult r;
  explicit parse_result(const char* sql) : r(pg_query_parse(sql)) {}
  ~parse_result() { pg_query_free_parse_result(r); }
};
struct fingerprint_result {
  PgQueryFingerprintResult r;
  explicit fingerprint_result(const char* sql) : r(pg_query_fingerprint(sql)) {}
  ~fingerprint_result() { pg_query_free_fingerprint_result(r); }
};
struct normalize_result {
  PgQueryNormalizeResult r;
  explicit normalize_result(const char* sql) : r(pg_query_normalize(sql)) {}
  ~normalize_result() { pg_query_free_normalize_result(r); }
};

relation_name range_var(const json& rv) {
  return {rv.value("schemaname", std::string{}), rv.value("relname", std::string{})};
}

// A name list of String nodes ([schema,] name), as FuncCall.funcname has.
relation_name qualified(const json& names) {
  std::vector<std::string> parts;
  for (const auto& n : names)
    if (auto s = n.find("String"); s != n.end()) parts.push_back(s->value("sval", std::string{}));
  if (parts.empty()) return {};
  relation_name r{{}, parts.back()};
  if (parts.size() > 1) r.schema = parts[parts.size() - 2];
  return r;
}

bool is_dml(std::string_view node) {
  return node == "InsertStmt" || node == "UpdateStmt" || node == "DeleteStmt" || node == "MergeStmt";
}

void note(std::optional<uncacheable_reason>& slot, reason_category c, std::string details) {
  if (!slot) slot = uncacheable_reason{c, std::move(details)};
}

// set_config(name, value, true) only lasts until the end of the transaction;
// any other third argument (false, a parameter, an expression) may outlive it.
bool local_set_config(const json& call) {
  const json& args = call.value("args", json::array());
  if (args.size() != 3) return false;
  const auto c = args[2].find("A_Const");
  if (c == args[2].end()) return false;
  const auto b = c->find("boolval");
  return b != c->end() && b->value("boolval", false);
}

// Whether a subtree creates a temporary object: the parser marks the new
// relation `relpersistence: t`, or names the pg_temp schema.
bool creates_temp_object(const json& node) {
  if (node.is_array()) {
    for (const auto& child : node)
      if (creates_temp_object(child)) return true;
    return false;
  }
  if (!node.is_object()) return false;
  for (const auto& [key, value] : node.items()) {
    if (key == "relpersistence" && value == "t") return true;
    if ((key == "schemaname" || key == "sval") && value == "pg_temp") return true;
    if (creates_temp_object(value)) return true;
  }
  return false;
}

// Walks a statement's tree collecting what it reads, writes and calls, and
// the reasons visible in the tree itself.
void walk(const json& node, analysis& a) {
  if (node.is_array()) {
    for (const auto& child : node) walk(child, a);
    return;
  }
  if (!node.is_object()) return;
  for (const auto& [key, value] : node.items()) {
    if (key == "RangeVar") {
      a.reads.push_back(range_var(value));
    } else if (key == "FuncCall") {
      if (auto f = value.find("funcname"); f != value.end()) {
        relation_name fn = qualified(*f);
        if (fn.name == "set_config" && !local_set_config(value)) a.calls_set_config = true;
        if (fn.name == "pg_reload_conf") a.changes_defaults = true;
        a.functions.push_back(std::move(fn));
      }
    } else if (key == "SQLValueFunction") {
      // CURRENT_TIMESTAMP, CURRENT_DATE, LOCALTIME, CURRENT_USER...: not a
      // FuncCall, so no catalog lookup sees it.
      std::string op = value.value("op", std::string{});
      if (op.starts_with("SVFOP_")) op.erase(0, 6);
      std::transform(op.begin(), op.end(), op.begin(), [](unsigned char c) { return std::tolower(c); });
      note(a.structural, reason_category::non_deterministic_function, op);
    } else if (key == "CommonTableExpr") {
      a.cte_names.push_back(value.value("ctename", std::string{}));
      if (auto q = value.find("ctequery"); q != value.end() && q->is_object())
        for (const auto& [inner, body] : q->items())
          if (is_dml(inner)) note(a.structural, reason_category::mutable_cte, {});
    } else if (key == "SelectStmt") {
      if (auto into = value.find("intoClause"); into != value.end()) {
        note(a.structural, reason_category::writes_data, {});
        if (creates_temp_object(*into)) a.creates_temp = true;
        else a.changes_schema = true;
      }
      // FOR UPDATE/SHARE must reach the origin to take its row locks.
      if (value.contains("lockingClause"))
        note(a.structural, reason_category::complex_expression, "locking clause (FOR UPDATE/SHARE)");
    } else if (is_dml(key)) {
      // Top-level or nested in a data-modifying CTE: either way a target.
      if (auto r = value.find("relation"); r != value.end()) a.writes.push_back(range_var(*r));
    } else if (key == "RangeTableSample") {
      // SYSTEM and BERNOULLI pick different rows on every run.
      std::string method = qualified(value.value("method", json::array())).name;
      note(a.structural, reason_category::complex_expression, "TABLESAMPLE " + method);
    }
    walk(value, a);
  }
}

bool is_session_statement(std::string_view node) {
  static constexpr std::array names{
      "TransactionStmt", "VariableSetStmt", "VariableShowStmt", "ExplainStmt",  "ListenStmt",
      "UnlistenStmt",    "NotifyStmt",      "FetchStmt",        "ClosePortalStmt", "DeclareCursorStmt",
      "PrepareStmt",     "ExecuteStmt",     "DeallocateStmt",   "LockStmt",     "DiscardStmt",
      "CheckPointStmt",  "DoStmt",          "CallStmt",         "LoadStmt",     "VacuumStmt",
      "ClusterStmt",     "ReindexStmt"};
  return std::find(names.begin(), names.end(), node) != names.end();
}

// The targets a statement names outside DML nodes, which walk() finds.
void collect_writes(std::string_view node, const json& body, analysis& a) {
  // Lists of relations (TRUNCATE) hold RangeVar nodes; COPY's is bare.
  if (node == "TruncateStmt") {
    for (const auto& r : body.value("relations", json::array()))
      if (r.contains("RangeVar")) a.writes.push_back(range_var(r["RangeVar"]));
    if (body.value("behavior", std::string{}) == "DROP_CASCADE") a.cascades = true;
  } else if (node == "CopyStmt") {
    if (body.value("is_from", false) && body.contains("relation"))
      a.writes.push_back(range_var(body["relation"]));
  }
}

// What a session or transaction statement does to the session's state.
void note_session_effects(std::string_view node, const json& body, analysis& a) {
  if (node == "VariableSetStmt") {
    const std::string kind = body.value("kind", std::string{});
    const bool transaction_only =
        body.value("is_local", false) || (kind == "VAR_SET_MULTI" && body.value("name", std::string{}) == "TRANSACTION");
    if (!transaction_only) {
      a.sets_setting = true;
      if (kind != "VAR_RESET_ALL" && kind != "VAR_SET_MULTI") {
        a.setting = body.value("name", std::string{});
        std::transform(a.setting.begin(), a.setting.end(), a.setting.begin(),
                       [](unsigned char c) { return std::tolower(c); });
      }
    }
  } else if (node == "TransactionStmt") {
    const std::string kind = body.value("kind", std::string{});
    if (kind == "TRANS_STMT_ROLLBACK_TO" || kind == "TRANS_STMT_PREPARE" || body.value("chain", false))
      a.splits_transaction = true;
  } else if (node == "DiscardStmt") {
    if (body.value("target", std::string{}) == "DISCARD_ALL") a.discards_all = true;
  } else if (node == "DeallocateStmt") {
    if (auto name = body.find("name"); name != body.end()) a.deallocates = name->get<std::string>();
    else a.deallocates_all = true;
  } else if (node == "ListenStmt") {
    a.listens = true;
  } else if (node == "DoStmt" || node == "CallStmt" || node == "ExecuteStmt" || node == "LoadStmt") {
    a.runs_code = true;
  } else if (node == "AlterRoleSetStmt" || node == "AlterDatabaseSetStmt" || node == "AlterSystemStmt") {
    a.changes_defaults = true;
  }
}

analysis::kind kind_of(std::string_view node) {
  if (node == "SelectStmt") return analysis::kind::select;
  if (is_dml(node) || node == "TruncateStmt" || node == "CopyStmt") return analysis::kind::write;
  if (is_session_statement(node)) return analysis::kind::session;
  return analysis::kind::schema;
}

}  // namespace

analysis analyze(const std::string& sql) {
  analysis a;
  parse_result parsed(sql.c_str());
  if (parsed.r.error) {
    a.type = analysis::kind::parse_error;
    a.error = parsed.r.error->message;
    a.cursor_position = parsed.r.error->cursorpos;
    return a;
  }
  json tree = json::parse(parsed.r.parse_tree);
  const json& stmts = tree.value("stmts", json::array());
  if (stmts.empty()) {
    a.type = analysis::kind::empty;
    return a;
  }
  if (fingerprint_result fp(sql.c_str()); !fp.r.error) a.fingerprint = fp.r.fingerprint_str;
  if (normalize_result n(sql.c_str()); !n.r.error) a.normalized = n.r.normalized_query;

  bool controls_transactions = false, sets = false;
  for (const auto& entry : stmts) {
    const json& stmt = entry.at("stmt");
    for (const auto& [node, body] : stmt.items()) {
      const analysis::kind k = kind_of(node);
      if (stmts.size() == 1) a.type = k;
      collect_writes(node, body, a);
      note_session_effects(node, body, a);
      controls_transactions |= node == "TransactionStmt";
      sets |= a.sets_setting;
      if (k == analysis::kind::schema) {
        if (creates_temp_object(body)) a.creates_temp = true;
        else a.changes_schema = true;
      }
      // Every kind is walked: a write's functions and nested targets count
      // as much as a SELECT's (EXPLAIN's too, which ANALYZE runs).
      walk(stmt, a);
    }
  }
  if (stmts.size() > 1) {
    a.type = analysis::kind::multiple;
    a.setting.clear();
    // BEGIN/COMMIT inside one Query commit part of it whatever happens next.
    if (controls_transactions && sets) a.splits_transaction = true;
  }
  return a;
}

namespace {

bool is_system_relation(const relation_name& r) {
  return r.schema == "pg_catalog" || r.schema == "information_schema" || r.name.starts_with("pg_");
}

bool excluded_table(const relation_name& r, const exclusions& ex) {
  for (const auto& t : ex.tables)
    if (t == r.name || (!r.schema.empty() && t == r.schema + "." + r.name)) return true;
  return false;
}

std::string display(const relation_name& r) { return r.schema.empty() ? r.name : r.schema + "." + r.name; }

}  // namespace

exclusions make_exclusions(std::vector<std::string> tables, const std::vector<std::string>& patterns) {
  exclusions ex;
  ex.tables = std::move(tables);
  for (const auto& p : patterns) {
    try {
      ex.patterns.emplace_back(p, std::regex::ECMAScript | std::regex::optimize);
    } catch (const std::regex_error& e) {
      throw std::invalid_argument("--exclude-pattern " + p + ": " + e.what());
    }
  }
  return ex;
}

namespace {

// Built-in functions that run the SQL text they are given.
bool runs_query_text(const relation_name& f) {
  static constexpr std::array names{"query_to_xml", "query_to_xmlschema", "query_to_xml_and_xmlschema",
                                    "cursor_to_xml", "cursor_to_xmlschema", "ts_stat"};
  return std::find(names.begin(), names.end(), f.name) != names.end();
}

bool is_cte(const analysis& a, const relation_name& r) {
  return r.schema.empty() && std::find(a.cte_names.begin(), a.cte_names.end(), r.name) != a.cte_names.end();
}

// What running the statement does beyond its result. Errs towards hiding:
// a false "hidden" costs hits, a false "visible" serves wrong rows.
side_effects effects_of(const analysis& a, catalog_source& catalog) {
  side_effects e;
  e.changes_schema = a.changes_schema;
  e.changes_defaults = a.changes_defaults;
  // Temporary objects shadow names for this session alone.
  if (a.creates_temp) e.hides_session_change = true;
  if (a.calls_set_config) e.hides_session_change = true;
  if (a.runs_code) e.hides_session_change = e.hides_writes = true;
  if (a.cascades) e.hides_writes = true;
  for (const auto& f : a.functions) {
    if (runs_query_text(f)) {
      e.hides_session_change = e.hides_writes = true;
      continue;
    }
    const function_facts facts = catalog.function(f);
    if (facts.found && (facts.builtin || facts.volatility == 'i')) continue;
    // User code that is not immutable may call set_config(), and if
    // volatile may write anything; an unknown name may be created later.
    e.hides_session_change = true;
    if (!facts.found || facts.volatility == 'v') e.hides_writes = true;
  }
  for (const auto& w : a.writes) {
    const relation_facts facts = catalog.relation(w);
    if (!facts.found || facts.kind != 'r' || facts.has_children || facts.writes_elsewhere) e.hides_writes = true;
  }
  return e;
}

}  // namespace

classification classify(const analysis& a, catalog_source& catalog, const exclusions& excluded) {
  classification c;
  if (a.type == analysis::kind::parse_error) {
    c.verdict = status::parse_error;
    return c;
  }
  c.effects = effects_of(a, catalog);
  if (a.type != analysis::kind::select) {
    c.verdict = status::unsupported;
    return c;
  }
  auto uncacheable = [&c](reason_category cat, std::string details) {
    c.verdict = status::uncacheable;
    c.reason = uncacheable_reason{cat, std::move(details)};
    return c;
  };
  // Configuration first: the user said so, whatever else holds.
  for (const auto& r : a.reads)
    if (excluded_table(r, excluded)) return uncacheable(reason_category::table_excluded, display(r));
  for (const auto& p : excluded.patterns)
    if (std::regex_search(a.normalized, p)) return uncacheable(reason_category::query_pattern_excluded, {});
  if (a.structural) {
    c.verdict = status::uncacheable;
    c.reason = a.structural;
    return c;
  }
  for (const auto& r : a.reads)
    if (is_system_relation(r)) return uncacheable(reason_category::system_catalog_query, display(r));
  for (const auto& r : a.reads) {
    if (r.schema == "pg_temp") return uncacheable(reason_category::temp_table, display(r));
    relation_facts facts = catalog.relation(r);
    if (!facts.found) {
      if (is_cte(a, r)) continue;
      // Not there when looked up (created since, or a typo the origin will
      // reject): nothing says what it will be, so nothing is stored.
      return uncacheable(reason_category::unsupported_subquery, "unknown relation " + display(r));
    }
    if (facts.persistence == 't') return uncacheable(reason_category::temp_table, display(r));
    if (facts.persistence == 'u') return uncacheable(reason_category::unlogged_table, display(r));
    // The change feed reports the tables under a view, the leaf partitions
    // of a partitioned table and the children of an inheritance parent
    // under their own names, and nothing for a foreign table or a
    // sequence, so an entry keyed by these names would never be invalidated.
    if (facts.kind == 'v' || facts.kind == 'm')
      return uncacheable(reason_category::unsupported_subquery,
                         (facts.kind == 'v' ? "view " : "materialized view ") + facts.qualified);
    if (facts.kind == 'p' || facts.kind == 'f')
      return uncacheable(reason_category::unsupported_join,
                         (facts.kind == 'p' ? "partitioned table " : "foreign table ") + facts.qualified);
    if (facts.has_children)
      return uncacheable(reason_category::unsupported_join, "inheritance parent " + facts.qualified);
    if (facts.kind == 'S') return uncacheable(reason_category::complex_expression, "sequence " + facts.qualified);
  }
  for (const auto& f : a.functions) {
    function_facts facts = catalog.function(f);
    if (facts.found && facts.volatility == 'i') continue;
    return uncacheable(!facts.found || !facts.builtin ? reason_category::volatile_function
                                                      : reason_category::non_deterministic_function,
                       display(f));
  }
  c.verdict = status::cache_miss;
  // CTE names too: the same name may also mean a table elsewhere in the tree.
  for (const auto& r : a.reads) c.tables.push_back(r.name);
  std::sort(c.tables.begin(), c.tables.end());
  c.tables.erase(std::unique(c.tables.begin(), c.tables.end()), c.tables.end());
  return c;
}

}  // namespace proxy
