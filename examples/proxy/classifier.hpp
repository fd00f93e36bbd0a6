// Classifying statements with the real PostgreSQL parser (libpg_query):
// what a statement is, which relations and functions it touches, and
// whether its result may be cached, with the seed's UncacheableReason.
//
// analyze() needs only the text; classify() adds the catalog facts the tree
// cannot tell (function volatility, temp/unlogged tables, views) through a
// catalog_source, so the rules are unit-testable without a database.
#pragma once

#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

namespace proxy {

/// The seed's statuses; every statement gets exactly one.
enum class status { cache_hit, cache_miss, uncacheable, unsupported, parse_error };
std::string_view status_name(status s) noexcept;

/// The seed's UncacheableReason variants.
enum class reason_category {
  non_deterministic_function,
  volatile_function,
  mutable_cte,
  writes_data,
  system_catalog_query,
  temp_table,
  unlogged_table,
  unsupported_join,
  unsupported_subquery,
  complex_expression,
  table_excluded,
  query_pattern_excluded,
};
/// The seed's spelling: "NonDeterministicFunction", ...
std::string_view category_name(reason_category c) noexcept;

/// Why a SELECT is not cached: the category and its details (the function,
/// the table, the construct), empty where the seed's variant has none.
struct uncacheable_reason {
  reason_category category;
  std::string details;
  bool operator==(const uncacheable_reason&) const = default;
};

/// A relation as the statement names it.
struct relation_name {
  std::string schema;  ///< empty when unqualified
  std::string name;
  bool operator==(const relation_name&) const = default;
};

/// What the parser alone says about one query text.
struct analysis {
  enum class kind {
    select,       ///< one SELECT (or VALUES): a caching candidate
    write,        ///< INSERT/UPDATE/DELETE/MERGE/TRUNCATE/COPY
    schema,       ///< DDL and anything else that may change catalog facts
    session,      ///< transaction control, SET, SHOW, LISTEN, ...
    empty,        ///< no statement at all
    multiple,     ///< several statements in one Query message
    parse_error,
  };
  kind type = kind::parse_error;
  std::string fingerprint;  ///< pg_query_fingerprint, hex
  std::string normalized;   ///< pg_query_normalize: constants as $n
  std::string error;        ///< the parser's message, for parse_error
  int cursor_position = 0;  ///< where the parser stopped, 1-based
  std::vector<relation_name> reads;  ///< relations a SELECT reads (CTE names included)
  std::vector<relation_name> writes;  ///< target relations of writes
  std::vector<relation_name> functions;  ///< functions called (schema = qualifier)
  /// A reason decided from the tree alone (SQLValueFunction, DML in a CTE,
  /// SELECT INTO, FOR UPDATE, pg_catalog).
  std::optional<uncacheable_reason> structural;
  /// A SET/RESET of a setting: search_path changes what names mean,
  /// TimeZone or DateStyle how values are written.
  bool sets_setting = false;
};

/// Parses `sql` (NUL-free) and analyzes it. Never throws on bad SQL: that is
/// kind::parse_error.
analysis analyze(const std::string& sql);

/// Catalog facts, looked up by name.
struct function_facts {
  bool found = false;
  char volatility = 'i';  ///< pg_proc.provolatile of the most volatile overload
  bool builtin = false;   ///< lives in pg_catalog
};
struct relation_facts {
  bool found = false;
  char persistence = 'p';  ///< pg_class.relpersistence: 'p', 'u' or 't'
  char kind = 'r';         ///< pg_class.relkind
  std::string qualified;   ///< schema.name as found
};

/// Where classify() gets catalog facts.
class catalog_source {
 public:
  virtual ~catalog_source() = default;
  virtual function_facts function(const relation_name& name) = 0;
  virtual relation_facts relation(const relation_name& name) = 0;
};

/// Tables and statement patterns configuration excludes.
struct exclusions {
  std::vector<std::string> tables;  ///< "name" or "schema.name"
  std::vector<std::regex> patterns;
};

/// Exclusions from the flags; throws std::invalid_argument naming a pattern
/// that is not a valid ECMAScript regular expression.
exclusions make_exclusions(std::vector<std::string> tables, const std::vector<std::string>& patterns);

/// The verdict on one statement before the cache is consulted: cacheable
/// SELECTs become cache_hit or cache_miss there.
struct classification {
  status verdict = status::unsupported;  ///< cache_miss means "cacheable"
  std::optional<uncacheable_reason> reason;
  /// Relation names an entry depends on: CDC changes to any invalidate it.
  std::vector<std::string> tables;
};

/// Applies the rules to an analysis; see the README for their order.
classification classify(const analysis& a, catalog_source& catalog, const exclusions& excluded);

/// A statement's analysis and classification, shared by the memo, the
/// cache entries and the statistics.
struct verdict {
  analysis a;
  classification c;
};

}  // namespace proxy
