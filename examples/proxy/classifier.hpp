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
  std::vector<std::string> cte_names;  ///< names the statement's WITH clauses define
  std::vector<relation_name> writes;  ///< target relations of writes, nested ones included
  std::vector<relation_name> functions;  ///< functions called, in any statement (schema = qualifier)
  /// A reason decided from the tree alone (SQLValueFunction, DML in a CTE,
  /// SELECT INTO, FOR UPDATE, pg_catalog).
  std::optional<uncacheable_reason> structural;

  // What running the statement does beyond its own result, as far as the
  // tree tells; classify() adds what the catalog tells.
  /// A session-level SET/RESET (not SET LOCAL or SET TRANSACTION): search_path
  /// changes what names mean, TimeZone or DateStyle how values are written.
  bool sets_setting = false;
  /// The one setting a lone SET/RESET changes, lowercased; empty for RESET
  /// ALL, SET SESSION CHARACTERISTICS and several statements.
  std::string setting;
  /// Calls set_config() other than with a literal is_local = true, whose
  /// change outlives the transaction and is invisible in the text.
  bool calls_set_config = false;
  /// Creates a temporary object (CREATE TEMP ..., SELECT INTO TEMP), which
  /// shadows permanent names for this session alone.
  bool creates_temp = false;
  /// Runs code the proxy cannot see into: DO, CALL, EXECUTE, LOAD.
  bool runs_code = false;
  /// DISCARD ALL: the session is as new (settings, temp objects, statements).
  bool discards_all = false;
  /// DEALLOCATE: the named statement, or every one when `deallocates_all`.
  std::optional<std::string> deallocates;
  bool deallocates_all = false;
  /// Transaction control after which the settings a transaction changed are
  /// not simply all kept or all undone: ROLLBACK TO SAVEPOINT, AND CHAIN,
  /// PREPARE TRANSACTION, or BEGIN/COMMIT among several statements.
  bool splits_transaction = false;
  /// Changes the settings new sessions start with (ALTER ROLE/DATABASE ...
  /// SET, ALTER SYSTEM) or that every session reads (pg_reload_conf()).
  bool changes_defaults = false;
  /// TRUNCATE ... CASCADE: empties tables the statement does not name.
  bool cascades = false;
  /// LISTEN: PostgreSQL will send notifications between the client's messages.
  bool listens = false;
  /// DDL (other than of temporary objects) or SELECT INTO: catalog facts
  /// and what names resolve to may change.
  bool changes_schema = false;
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
  /// An inheritance parent: reads of it include rows the change feed
  /// reports under its children's names.
  bool has_children = false;
  /// Writing it may write rows elsewhere: user triggers, rules, or foreign
  /// keys that cascade, set null or set default.
  bool writes_elsewhere = false;
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

/// What running a statement does beyond its own result, for the session
/// that runs it and for the cache.
struct side_effects {
  /// It may change the session's state in a way the proxy cannot follow
  /// (set_config, temp objects, code in functions, DO, CALL): the session
  /// must stop sharing results with any other.
  bool hides_session_change = false;
  /// It may write rows of tables it does not name (triggers, rules,
  /// cascading foreign keys, views, functions, DO, CALL): until the change
  /// feed has passed its commit, the session reads from PostgreSQL.
  bool hides_writes = false;
  /// It may change catalog facts or what names resolve to (DDL): every
  /// cached result and catalog fact goes.
  bool changes_schema = false;
  /// It changes the settings sessions start with or read from the server's
  /// configuration: sessions started before it share no result with later ones.
  bool changes_defaults = false;
};

/// The verdict on one statement before the cache is consulted: cacheable
/// SELECTs become cache_hit or cache_miss there.
struct classification {
  status verdict = status::unsupported;  ///< cache_miss means "cacheable"
  std::optional<uncacheable_reason> reason;
  /// Relation names an entry depends on: CDC changes to any invalidate it.
  std::vector<std::string> tables;
  side_effects effects;
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
