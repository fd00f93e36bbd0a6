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

// Walks a SELECT's tree collecting what it reads and calls, and the reasons
// visible in the tree itself.
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
      if (auto f = value.find("funcname"); f != value.end()) a.functions.push_back(qualified(*f));
    } else if (key == "SQLValueFunction") {
      // CURRENT_TIMESTAMP, CURRENT_DATE, LOCALTIME, CURRENT_USER...: not a
      // FuncCall, so no catalog lookup sees it.
      std::string op = value.value("op", std::string{});
      if (op.starts_with("SVFOP_")) op.erase(0, 6);
      std::transform(op.begin(), op.end(), op.begin(), [](unsigned char c) { return std::tolower(c); });
      note(a.structural, reason_category::non_deterministic_function, op);
    } else if (key == "CommonTableExpr") {
      if (auto q = value.find("ctequery"); q != value.end() && q->is_object())
        for (const auto& [inner, body] : q->items())
          if (is_dml(inner)) note(a.structural, reason_category::mutable_cte, {});
    } else if (key == "SelectStmt") {
      if (value.contains("intoClause")) note(a.structural, reason_category::writes_data, {});
      // FOR UPDATE/SHARE must reach the origin to take its row locks.
      if (value.contains("lockingClause"))
        note(a.structural, reason_category::complex_expression, "locking clause (FOR UPDATE/SHARE)");
    } else if (is_dml(key)) {
      // DML nested in a SELECT (data-modifying CTEs) also names its target.
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
      "TransactionStmt", "VariableSetStmt", "VariableShowStmt", "ExplainStmt", "ListenStmt",
      "UnlistenStmt",    "NotifyStmt",      "FetchStmt",        "ClosePortalStmt", "DeclareCursorStmt",
      "PrepareStmt",     "ExecuteStmt",     "DeallocateStmt",   "LockStmt",     "DiscardStmt",
      "CheckPointStmt",  "DoStmt",          "CallStmt"};
  return std::find(names.begin(), names.end(), node) != names.end();
}

// The write targets of one top-level statement.
void collect_writes(std::string_view node, const json& body, analysis& a) {
  // A statement's target is a bare RangeVar object; lists of relations
  // (TRUNCATE) hold RangeVar nodes.
  if (is_dml(node)) {
    if (auto r = body.find("relation"); r != body.end()) a.writes.push_back(range_var(*r));
  } else if (node == "TruncateStmt") {
    for (const auto& r : body.value("relations", json::array()))
      if (r.contains("RangeVar")) a.writes.push_back(range_var(r["RangeVar"]));
  } else if (node == "CopyStmt") {
    if (body.value("is_from", false) && body.contains("relation"))
      a.writes.push_back(range_var(body["relation"]));
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

  for (const auto& entry : stmts) {
    const json& stmt = entry.at("stmt");
    for (const auto& [node, body] : stmt.items()) {
      collect_writes(node, body, a);
      if (node == "VariableSetStmt") a.sets_setting = true;
      if (stmts.size() == 1) a.type = kind_of(node);
      if (a.type == analysis::kind::select) walk(stmt, a);
    }
  }
  if (stmts.size() > 1) a.type = analysis::kind::multiple;
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

classification classify(const analysis& a, catalog_source& catalog, const exclusions& excluded) {
  classification c;
  switch (a.type) {
    case analysis::kind::parse_error: c.verdict = status::parse_error; return c;
    case analysis::kind::select: break;
    default: c.verdict = status::unsupported; return c;
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
    if (!facts.found) continue;  // a CTE name, or a table the origin will reject
    if (facts.persistence == 't') return uncacheable(reason_category::temp_table, display(r));
    if (facts.persistence == 'u') return uncacheable(reason_category::unlogged_table, display(r));
    // The change feed reports the tables under a view, and the leaf
    // partitions of a partitioned table (nothing for a foreign table), so
    // an entry keyed by these names would never be invalidated.
    if (facts.kind == 'v' || facts.kind == 'm')
      return uncacheable(reason_category::unsupported_subquery,
                         (facts.kind == 'v' ? "view " : "materialized view ") + facts.qualified);
    if (facts.kind == 'p' || facts.kind == 'f')
      return uncacheable(reason_category::unsupported_join,
                         (facts.kind == 'p' ? "partitioned table " : "foreign table ") + facts.qualified);
  }
  for (const auto& f : a.functions) {
    function_facts facts = catalog.function(f);
    if (!facts.found || facts.volatility == 'i') continue;
    return uncacheable(facts.builtin ? reason_category::non_deterministic_function
                                     : reason_category::volatile_function,
                       display(f));
  }
  c.verdict = status::cache_miss;
  for (const auto& r : a.reads) c.tables.push_back(r.name);
  std::sort(c.tables.begin(), c.tables.end());
  c.tables.erase(std::unique(c.tables.begin(), c.tables.end()), c.tables.end());
  return c;
}

}  // namespace proxy
