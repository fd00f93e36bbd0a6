// The proxy's logic without a database: classification rules over a fake
// catalog, the cache's budget and invalidation, change lines, statistics.
#include "classifier.hpp"

#include <map>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "cache.hpp"
#include "cdc.hpp"
#include "config.hpp"
#include "query_stats.hpp"

namespace {

using proxy::reason_category;
using proxy::status;

// Catalog facts by bare name.
struct fake_catalog : proxy::catalog_source {
  std::map<std::string, proxy::function_facts> functions{
      {"now", {true, 's', true}}, {"random", {true, 'v', true}}, {"lower", {true, 'i', true}},
      {"bump", {true, 'v', false}}, {"pure", {true, 'i', false}}};
  std::map<std::string, proxy::relation_facts> relations{
      {"t", {true, 'p', 'r', "public.t"}},       {"tmp", {true, 't', 'r', "pg_temp_3.tmp"}},
      {"ul", {true, 'u', 'r', "public.ul"}},     {"v", {true, 'p', 'v', "public.v"}},
      {"parts", {true, 'p', 'p', "public.parts"}}};
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
  std::vector<std::string_view> bad{"--listen", "nope"};
  CHECK_THROWS_AS(proxy::parse_flags(bad), std::invalid_argument);
  std::vector<std::string_view> missing{"--listen", ":1"};
  CHECK_THROWS_WITH(proxy::parse_flags(missing), "--origin is required");
}
