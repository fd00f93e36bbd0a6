// The proxy's logic without a database: classification rules over a fake
// catalog, the cache's budget and invalidation, change lines, statistics.
#include "classifier.hpp"

#include <map>
#include <memory>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "cache.hpp"
#include "cdc.hpp"
#include "config.hpp"
#include "query_stats.hpp"
#include "session_state.hpp"

namespace {

using proxy::reason_category;
using proxy::status;

// Catalog facts by bare name.
struct fake_catalog : proxy::catalog_source {
  std::map<std::string, proxy::function_facts> functions{
      {"now", {true, 's', true}}, {"random", {true, 'v', true}}, {"lower", {true, 'i', true}},
      {"bump", {true, 'v', false}}, {"pure", {true, 'i', false}}, {"lookup", {true, 's', false}},
      {"set_config", {true, 'v', true}}};
  std::map<std::string, proxy::relation_facts> relations{
      {"t", {true, 'p', 'r', "public.t"}},       {"tmp", {true, 't', 'r', "pg_temp_3.tmp"}},
      {"ul", {true, 'u', 'r', "public.ul"}},     {"v", {true, 'p', 'v', "public.v"}},
      {"parts", {true, 'p', 'p', "public.parts"}}, {"other", {true, 'p', 'r', "public.other"}},
      {"animals", {true, 'p', 'r', "public.animals", true}}, {"seq", {true, 'p', 'S', "public.seq"}},
      {"audited", {true, 'p', 'r', "public.audited", false, true}}};
  proxy::function_facts function(const proxy::relation_name& n) override { return functions[n.name]; }
  proxy::relation_facts relation(const proxy::relation_name& n) override { return relations[n.name]; }
};

proxy::classification classify(const std::string& sql, proxy::exclusions ex = {}) {
  fake_catalog catalog;
  return proxy::classify(proxy::analyze(sql), catalog, ex);
}

void require_reason(const std::string& sql, reason_category c, const std::string& details,
                    proxy::exclusions ex = {}) {
  auto v = classify(sql, std::move(ex));
  INFO(sql);
  REQUIRE(v.verdict == status::uncacheable);
  REQUIRE(v.reason);
  CHECK(v.reason->category == c);
  CHECK(v.reason->details == details);
}

}  // namespace

TEST_CASE("classify: cacheable SELECTs list the tables they read", "[unit]") {
  auto v = classify("SELECT a.x, b.y FROM t a JOIN other b ON a.id = b.id WHERE lower(a.x) = 'q'");
  CHECK(v.verdict == status::cache_miss);
  CHECK(v.tables == std::vector<std::string>{"other", "t"});
  CHECK(classify("SELECT pure(1)").verdict == status::cache_miss);
  CHECK(classify("VALUES (1), (2)").verdict == status::cache_miss);
}

TEST_CASE("classify: every uncacheable reason", "[unit]") {
  require_reason("SELECT now()", reason_category::non_deterministic_function, "now");
  require_reason("SELECT random() FROM t", reason_category::non_deterministic_function, "random");
  require_reason("SELECT CURRENT_TIMESTAMP", reason_category::non_deterministic_function, "current_timestamp");
  require_reason("SELECT bump(id) FROM t", reason_category::volatile_function, "bump");
  require_reason("WITH w AS (INSERT INTO t VALUES (1) RETURNING *) SELECT * FROM w", reason_category::mutable_cte,
                 "");
  require_reason("SELECT * INTO copy FROM t", reason_category::writes_data, "");
  require_reason("SELECT * FROM pg_catalog.pg_class", reason_category::system_catalog_query, "pg_catalog.pg_class");
  require_reason("SELECT * FROM pg_stat_activity", reason_category::system_catalog_query, "pg_stat_activity");
  require_reason("SELECT * FROM tmp", reason_category::temp_table, "tmp");
  require_reason("SELECT * FROM ul", reason_category::unlogged_table, "ul");
  require_reason("SELECT * FROM parts", reason_category::unsupported_join, "partitioned table public.parts");
  require_reason("SELECT * FROM t WHERE id IN (SELECT id FROM v)", reason_category::unsupported_subquery,
                 "view public.v");
  require_reason("SELECT * FROM animals", reason_category::unsupported_join, "inheritance parent public.animals");
  require_reason("SELECT last_value FROM seq", reason_category::complex_expression, "sequence public.seq");
  require_reason("SELECT * FROM nowhere", reason_category::unsupported_subquery, "unknown relation nowhere");
  require_reason("SELECT lookup(1)", reason_category::volatile_function, "lookup");
  require_reason("SELECT * FROM t FOR UPDATE", reason_category::complex_expression,
                 "locking clause (FOR UPDATE/SHARE)");
  require_reason("SELECT * FROM t TABLESAMPLE bernoulli (10)", reason_category::complex_expression,
                 "TABLESAMPLE bernoulli");
  require_reason("SELECT * FROM public.t", reason_category::table_excluded, "public.t",
                 proxy::make_exclusions({"public.t"}, {}));
  require_reason("SELECT * FROM t WHERE id = 42", reason_category::query_pattern_excluded, "",
                 proxy::make_exclusions({}, {"FROM t WHERE id = \\$1"}));
  CHECK_THROWS_AS(proxy::make_exclusions({}, {"(unclosed"}), std::invalid_argument);
}

TEST_CASE("classify: statuses other than SELECT", "[unit]") {
  CHECK(classify("INSERT INTO t VALUES (1)").verdict == status::unsupported);
  CHECK(classify("BEGIN").verdict == status::unsupported);
  CHECK(classify("SELECT 1; SELECT 2").verdict == status::unsupported);
  CHECK(classify("").verdict == status::unsupported);
  auto bad = proxy::analyze("SELEC 1");
  CHECK(bad.type == proxy::analysis::kind::parse_error);
  CHECK(bad.cursor_position == 1);
  CHECK(classify("SELEC 1").verdict == status::parse_error);
}

TEST_CASE("analyze: writes, DDL and fingerprints", "[unit]") {
  auto w = proxy::analyze("UPDATE s.t SET v = 1");
  CHECK(w.type == proxy::analysis::kind::write);
  REQUIRE(w.writes.size() == 1);
  CHECK(w.writes[0] == proxy::relation_name{"s", "t"});
  CHECK(proxy::analyze("TRUNCATE a, b").writes.size() == 2);
  CHECK(proxy::analyze("ALTER TABLE t ADD c int").type == proxy::analysis::kind::schema);
  CHECK(proxy::analyze("SET search_path = x").sets_setting);
  CHECK(proxy::analyze("RESET TimeZone").sets_setting);
  // Constants and IN-list lengths share a fingerprint: the cache key must
  // carry the text too.
  CHECK(proxy::analyze("SELECT * FROM t WHERE id = 1").fingerprint ==
        proxy::analyze("SELECT * FROM t WHERE id = 2").fingerprint);
  CHECK(proxy::analyze("SELECT * FROM t WHERE id = 1").normalized == "SELECT * FROM t WHERE id = $1");
}

TEST_CASE("classify: what a statement does beyond its result", "[unit]") {
  auto effects = [](const std::string& sql) { return classify(sql).effects; };
  auto hides_session = [&](const std::string& sql) { return effects(sql).hides_session_change; };
  auto hides_writes = [&](const std::string& sql) { return effects(sql).hides_writes; };
  // Nothing hidden: reads, plain writes to plain tables, built-ins.
  for (const char* sql : {"SELECT * FROM t", "INSERT INTO t VALUES (1)", "UPDATE t SET v = now()",
                          "SELECT random()", "SET search_path = s2", "SELECT set_config('a.b', 'c', true)"}) {
    INFO(sql);
    CHECK_FALSE(hides_session(sql));
    CHECK_FALSE(hides_writes(sql));
  }
  // The session's state moves where the text does not show it.
  for (const char* sql : {"SELECT set_config('search_path', 's2', false)", "SELECT set_config('a.b', 'c', $1)",
                          "CREATE TEMP TABLE x (id int)", "SELECT 1 AS v INTO TEMP TABLE x", "SELECT lookup(1)",
                          "DO $$ BEGIN END $$", "CALL proc()"}) {
    INFO(sql);
    CHECK(hides_session(sql));
  }
  // Rows of tables the statement does not name may change.
  for (const char* sql : {"INSERT INTO audited VALUES (1)", "UPDATE v SET x = 1", "DELETE FROM animals",
                          "INSERT INTO t VALUES (bump(1))", "SELECT bump(1)", "TRUNCATE t CASCADE",
                          "EXPLAIN ANALYZE SELECT bump(1)", "CALL proc()", "DO $$ BEGIN END $$",
                          "INSERT INTO nowhere VALUES (1)",
                          "WITH gone AS (DELETE FROM audited RETURNING *) SELECT count(*) FROM gone"}) {
    INFO(sql);
    CHECK(hides_writes(sql));
  }
  CHECK(effects("ALTER TABLE t ADD c int").changes_schema);
  CHECK(effects("SELECT * INTO copy FROM t").changes_schema);
  CHECK_FALSE(effects("CREATE TEMP TABLE x (id int)").changes_schema);
  CHECK(effects("ALTER ROLE r SET search_path = s2").changes_defaults);
  CHECK(effects("SELECT pg_reload_conf()").changes_defaults);
}

TEST_CASE("session_state: who shares a scope", "[unit]") {
  proxy::scope_table scopes;
  fake_catalog catalog;
  auto session = [&] {
    auto s = std::make_unique<proxy::session_state>(scopes);
    s->startup_parameter("user", "alice");
    s->startup_parameter("database", "app");
    return s;
  };
  // Runs `sql` as one round ending in `status`.
  auto run = [&](proxy::session_state& s, const std::string& sql, char status = 'I', bool failed = false,
                 std::string_view tag = "SET") {
    auto a = proxy::analyze(sql);
    s.ran(a, proxy::classify(a, catalog, {}).effects, sql);
    return s.ready(status, failed, tag);
  };
  auto a = session(), b = session();
  CHECK(a->scope() == b->scope());
  a->startup_parameter("application_name", "psql");  // changes no result
  CHECK(a->scope() == b->scope());

  SECTION("committed SETs are shared; failed or rolled back ones are not there") {
    run(*a, "SET search_path = s2");
    CHECK(a->scope() != b->scope());
    run(*b, "SET search_path = s2", 'I', true, "");
    CHECK(a->scope() != b->scope());
    run(*b, "BEGIN", 'T', false, "BEGIN");
    run(*b, "SET search_path = s2", 'T');
    run(*b, "ROLLBACK", 'I', false, "ROLLBACK");
    CHECK(b->scope() == session()->scope());
    run(*b, "BEGIN", 'T', false, "BEGIN");
    run(*b, "SET search_path = s2", 'T');
    run(*b, "COMMIT", 'I', false, "COMMIT");
    CHECK(a->scope() == b->scope());
    CHECK(a->shares());
  }
  SECTION("a SET of the same setting replaces the earlier one") {
    run(*a, "SET statement_timeout = 5");
    run(*a, "SET search_path = s2");
    run(*a, "SET statement_timeout = 10");
    run(*b, "SET search_path = s2");
    run(*b, "SET statement_timeout = 10");
    CHECK(a->scope() == b->scope());
    auto c = session();
    run(*c, "SET statement_timeout = 10");
    run(*c, "SET search_path = s2");
    CHECK(a->scope() != c->scope());  // another order: conservative, not wrong
    run(*a, "SET ROLE r");
    run(*a, "SET search_path = s2");
    run(*b, "SET search_path = s2");
    run(*b, "SET ROLE r");
    CHECK(a->scope() != b->scope());  // nothing moves across a role change
  }
  SECTION("what the proxy cannot follow makes a session private, each time anew") {
    run(*a, "SELECT set_config('search_path', 's2', false)", 'I', false, "SELECT 1");
    CHECK_FALSE(a->shares());
    const auto first = a->scope();
    CHECK(first != b->scope());
    CHECK(a->scope() == first);
    run(*a, "CALL proc()", 'I', false, "CALL");
    CHECK(a->scope() != first);
    // Once private, anything but a read may move the state again.
    const auto called = a->scope();
    run(*a, "SELECT * FROM t", 'I', false, "SELECT 1");
    CHECK(a->scope() == called);
    run(*a, "DISCARD TEMP", 'I', false, "DISCARD TEMP");
    CHECK(a->scope() != called);
    a->reported("TimeZone", "UTC");
    const auto second = a->scope();
    a->reported("TimeZone", "Asia/Tokyo");
    CHECK(a->scope() != second);
    // DISCARD ALL: as new again.
    run(*a, "DISCARD ALL", 'I', false, "DISCARD ALL");
    a->reported("TimeZone", "UTC");
    b->reported("TimeZone", "UTC");
    CHECK(a->shares());
    CHECK(a->scope() == b->scope());
  }
  SECTION("a savepoint that undid some SETs") {
    run(*a, "BEGIN", 'T', false, "BEGIN");
    run(*a, "SET search_path = s2", 'T');
    run(*a, "ROLLBACK TO SAVEPOINT x", 'T', false, "ROLLBACK");
    run(*a, "COMMIT", 'I', false, "COMMIT");
    CHECK_FALSE(a->shares());
  }
  SECTION("defaults changed: sessions started before share nothing with those after") {
    auto before = session();
    run(*a, "ALTER ROLE alice SET search_path = s2", 'I', false, "ALTER ROLE");
    auto after = session();
    CHECK(before->scope() == b->scope());
    CHECK(after->scope() != b->scope());
  }
  SECTION("a round reports writes, hidden writes and DDL") {
    auto end = run(*a, "INSERT INTO t VALUES (1)", 'I', false, "INSERT 0 1");
    CHECK(end.written == std::vector<std::string>{"t"});
    CHECK_FALSE(end.hidden_write);
    run(*a, "BEGIN", 'T', false, "BEGIN");
    CHECK_FALSE(run(*a, "INSERT INTO audited VALUES (1)", 'T', false, "INSERT 0 1").hidden_write);
    end = run(*a, "COMMIT", 'I', false, "COMMIT");
    CHECK(end.hidden_write);
    CHECK(end.written == std::vector<std::string>{"audited"});
    CHECK(run(*a, "CREATE TABLE x (id int)", 'I', false, "CREATE TABLE").schema_changed);
  }
}

TEST_CASE("cache: budget, LRU eviction, invalidation and stale fills", "[unit]") {
  proxy::result_cache cache(1000, 600);
  auto entry = [](std::size_t n, std::vector<std::string> tables) {
    auto e = std::make_shared<proxy::cached_result>();
    e->response.assign(n, 'x');
    e->tables = std::move(tables);
    return e;
  };
  auto t0 = cache.ticket();
  CHECK(cache.store("a", entry(300, {"t"}), t0));
  CHECK(cache.store("b", entry(300, {"u"}), t0));
  CHECK_FALSE(cache.store("huge", entry(700, {"t"}), t0));  // over max_entry_bytes
  REQUIRE(cache.find("a"));                                 // a is now most recent
  CHECK(cache.store("c", entry(300, {"t"}), t0));           // evicts b
  CHECK_FALSE(cache.find("b"));
  CHECK(cache.bytes() <= 1000);
  CHECK(cache.invalidate("t") == 2);
  CHECK(cache.entries() == 0);
  // A fill that started before the invalidation is refused.
  CHECK_FALSE(cache.store("a", entry(10, {"t"}), t0));
  CHECK(cache.store("a", entry(10, {"t"}), cache.ticket()));
  cache.set_enabled(false);
  CHECK_FALSE(cache.find("a"));
  CHECK(cache.entries() == 0);
  // A fill that started while the change feed was down may have missed changes.
  const auto while_down = cache.ticket();
  cache.set_enabled(true);
  CHECK_FALSE(cache.store("a", entry(10, {"t"}), while_down));
  CHECK(cache.store("a", entry(10, {"t"}), cache.ticket()));
}

TEST_CASE("parse_change: test_decoding lines", "[unit]") {
  auto c = proxy::parse_change("table public.t: INSERT: id[integer]:1 v[text]:'a'");
  REQUIRE(c);
  CHECK(c->schema == "public");
  CHECK(c->table == "t");
  CHECK(c->type == "INSERT");
  auto q = proxy::parse_change(R"(table "My ""S""".": odd": DELETE: id[integer]:1)");
  REQUIRE(q);
  CHECK(q->schema == "My \"S\"");
  CHECK(q->table == ": odd");
  CHECK(q->type == "DELETE");
  CHECK(proxy::parse_change("table public.t: TRUNCATE: (no-flags)")->type == "TRUNCATE");
  CHECK_FALSE(proxy::parse_change("BEGIN 1234"));
  CHECK_FALSE(proxy::parse_change("table \"unterminated"));
}

TEST_CASE("parse_lsn and unique slot names", "[unit]") {
  CHECK(proxy::parse_lsn("16/B374D848") == (std::uint64_t{0x16} << 32 | 0xB374D848));
  CHECK(proxy::parse_lsn("0/0") == 0);
  CHECK_FALSE(proxy::parse_lsn("16B374D848"));
  CHECK_FALSE(proxy::parse_lsn("x/1"));
  CHECK_FALSE(proxy::parse_lsn("1/"));
  const auto name = proxy::unique_slot_name();
  CHECK(name.starts_with("pgcache_"));
  CHECK(name != proxy::unique_slot_name());
  std::vector<std::string_view> args{"--origin", "host=x", "--slot", name};
  CHECK(proxy::parse_flags(args).slot == name);
  std::vector<std::string_view> bad{"--origin", "host=x", "--slot", "Has-Caps"};
  CHECK_THROWS_AS(proxy::parse_flags(bad), std::invalid_argument);
}

TEST_CASE("query_stats: the seed's fields, top N", "[unit]") {
  proxy::query_stats stats;
  fake_catalog catalog;
  auto a = proxy::analyze("SELECT * FROM t WHERE id = 1");
  auto c = proxy::classify(a, catalog, {});
  stats.record(a, c, {status::cache_miss, 0.002, 1});
  stats.record(a, c, {status::cache_hit, 0.00002, 1});
  auto n = proxy::analyze("SELECT now()");
  stats.record(n, proxy::classify(n, catalog, {}), {status::uncacheable, 0.001, 1});
  auto json = nlohmann::json::parse(stats.to_json(10));
  REQUIRE(json.size() == 2);
  const auto& q = json[0];
  CHECK(q["sql_template"] == "SELECT * FROM t WHERE id = $1");
  CHECK(q["tables"] == nlohmann::json::array({"t"}));
  CHECK(q["execution_count"] == 2);
  CHECK(q["cache_hits"] == 1);
  CHECK(q["cache_misses"] == 1);
  CHECK(q["avg_latency_cache_ms"].get<double>() == Approx(0.02));
  CHECK(q["avg_latency_origin_ms"].get<double>() == Approx(2.0));
  CHECK(q["avg_rows_returned"] == 1.0);
  CHECK(q["cacheable"] == true);
  CHECK(q["uncacheable_reason"].is_null());
  CHECK(q["first_seen"].get<std::string>().ends_with("Z"));
  CHECK(json[1]["uncacheable_reason"] == nlohmann::json({{"category", "NonDeterministicFunction"}, {"details", "now"}}));
  CHECK(nlohmann::json::parse(stats.to_json(1)).size() == 1);
}

TEST_CASE("config: flags", "[unit]") {
  std::vector<std::string_view> args{"--origin", "host=x", "--listen", ":7000", "--exclude-table", "a"};
  auto c = proxy::parse_flags(args);
  CHECK(c.listen.host == "127.0.0.1");
  CHECK(c.listen.port == 7000);
  CHECK(c.metrics_listen.port == 9090);
  CHECK(c.exclude_tables == std::vector<std::string>{"a"});
  CHECK_FALSE(c.push.url);
  CHECK(c.push.interval == std::chrono::seconds(15));
  std::vector<std::string_view> push{"--origin", "host=x", "--remote-write-url", "http://127.0.0.1:9090/api/v1/write",
                                     "--remote-write-interval-ms", "2000"};
  c = proxy::parse_flags(push);
  CHECK(c.push.url == "http://127.0.0.1:9090/api/v1/write");
  CHECK(c.push.interval == std::chrono::seconds(2));
  std::vector<std::string_view> zero_interval{"--origin", "host=x", "--remote-write-interval-ms", "0"};
  CHECK_THROWS_WITH(proxy::parse_flags(zero_interval), Catch::Contains("--remote-write-interval-ms"));
  std::vector<std::string_view> bad{"--listen", "nope"};
  CHECK_THROWS_AS(proxy::parse_flags(bad), std::invalid_argument);
  std::vector<std::string_view> missing{"--listen", ":1"};
  CHECK_THROWS_WITH(proxy::parse_flags(missing), "--origin is required");
}
