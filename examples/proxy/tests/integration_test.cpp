// obs_proxy against the PostgreSQL of OBS_TEST_PG_URL: every status and
// reason, invalidation, replayed results, a live scrape, and bad input.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <functional>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <catch2/catch.hpp>

#include "classifier.hpp"
#include "pgwire/codec.hpp"
#include "pgwire/decoder.hpp"
#include "support.hpp"
#include "support/listen_port.hpp"

using namespace proxy_test;

namespace {

std::string fingerprint(const std::string& sql) { return proxy::analyze(sql).fingerprint; }

// Rows of a result as (isnull, bytes) per field, plus the column metadata,
// so two results compare byte for byte.
struct snapshot {
  std::vector<std::tuple<std::string, unsigned, int>> columns;  // name, type, format
  std::vector<std::vector<std::pair<bool, std::string>>> rows;
  bool operator==(const snapshot&) const = default;
};

snapshot take(PGresult* r) {
  REQUIRE(PQresultStatus(r) == PGRES_TUPLES_OK);
  snapshot s;
  for (int c = 0; c < PQnfields(r); ++c) s.columns.emplace_back(PQfname(r, c), PQftype(r, c), PQfformat(r, c));
  for (int i = 0; i < PQntuples(r); ++i) {
    auto& row = s.rows.emplace_back();
    for (int c = 0; c < PQnfields(r); ++c)
      row.emplace_back(PQgetisnull(r, i, c) != 0, std::string(PQgetvalue(r, i, c), PQgetlength(r, i, c)));
  }
  return s;
}

// A test database with a ready proxy in front of it.
struct proxied {
  test_database db;
  proxy_process proxy;
  explicit proxied(std::vector<std::string> extra = {}) : proxy(db.direct(), db.name(), std::move(extra)) {
    proxy.wait_ready();
  }
  std::string conninfo() const { return proxy.conninfo(db.name()); }
};

// A hit, a miss and an uncacheable statement.
void run_mix(connection& c) {
  c.exec("SELECT 1");
  c.exec("SELECT 1");
  c.exec("SELECT now()");
}

// Sends a simple Query on the connection's own socket and reads the answer
// up to and including ReadyForQuery; returns how many bytes came back.
std::size_t raw_query(connection& c, const std::string& sql) {
  const int fd = PQsocket(c.get());
  std::string frame;
  pgwire::message_writer(frame, 'Q').cstring(sql).finish();
  REQUIRE(send(fd, frame.data(), frame.size(), 0) == static_cast<ssize_t>(frame.size()));
  pgwire::decoder in;
  std::size_t received = 0;
  for (;;) {
    while (auto m = in.next())
      if (m->type == 'Z') return received;
    pollfd readable{fd, POLLIN, 0};
    REQUIRE(poll(&readable, 1, 10000) == 1);
    auto room = in.prepare(4096);
    const ssize_t n = recv(fd, room.data(), room.size(), 0);
    REQUIRE(n > 0);
    in.commit(static_cast<std::size_t>(n));
    received += static_cast<std::size_t>(n);
  }
}

}  // namespace

TEST_CASE("every status and every uncacheable reason, on /metrics and /metrics/queries", "[integration]") {
  test_database db;
  {
    connection direct(db.direct());
    direct.exec(
        "CREATE TABLE t (id int PRIMARY KEY, v text);"
        "INSERT INTO t VALUES (1, 'a'), (2, NULL);"
        "CREATE UNLOGGED TABLE ul (id int);"
        "CREATE VIEW vw AS SELECT * FROM t;"
        "CREATE TABLE parts (id int) PARTITION BY RANGE (id);"
        "CREATE TABLE parts_1 PARTITION OF parts FOR VALUES FROM (0) TO (100);"
        "CREATE TABLE secret (id int);"
        "CREATE FUNCTION bump(int) RETURNS int VOLATILE LANGUAGE sql AS 'SELECT $1 + 1';");
  }
  proxy_process p(db.direct(), db.name(), {"--exclude-table", "secret", "--exclude-pattern", "FROM t WHERE v = \\$1"});
  p.wait_ready();
  connection c(p.conninfo(db.name()));
  c.exec("CREATE TEMP TABLE tmp (id int)");

  struct expectation {
    std::string sql;
    const char* category;
    std::string details;
  };
  const std::vector<expectation> uncacheable{
      {"SELECT now()", "NonDeterministicFunction", "now"},
      {"SELECT random()", "NonDeterministicFunction", "random"},
      {"SELECT CURRENT_TIMESTAMP", "NonDeterministicFunction", "current_timestamp"},
      {"SELECT bump(id) FROM t", "VolatileFunction", "bump"},
      {"WITH w AS (INSERT INTO t VALUES (10, 'w') RETURNING *) SELECT * FROM w", "MutableCTE", ""},
      {"SELECT * INTO t_copy FROM t", "WritesData", ""},
      {"SELECT relname FROM pg_catalog.pg_class LIMIT 1", "SystemCatalogQuery", "pg_catalog.pg_class"},
      {"SELECT * FROM tmp", "TempTable", "tmp"},
      {"SELECT * FROM ul", "UnloggedTable", "ul"},
      {"SELECT * FROM parts", "UnsupportedJoin", "partitioned table public.parts"},
      {"SELECT * FROM vw", "UnsupportedSubquery", "view public.vw"},
      {"SELECT * FROM t FOR UPDATE", "ComplexExpression", "locking clause (FOR UPDATE/SHARE)"},
      {"SELECT * FROM secret", "TableExcluded", "secret"},
      {"SELECT * FROM t WHERE v = 'a'", "QueryPatternExcluded", ""},
  };
  // The cached pair first: the writes below reach the change feed a little
  // later and would drop the entry between the two.
  const std::string cached = "SELECT id, v FROM t ORDER BY id";
  c.exec(cached);
  c.exec(cached);
  for (const auto& e : uncacheable) c.exec(e.sql);
  c.exec("INSERT INTO t VALUES (3, 'c')");
  CHECK(PQresultStatus(c.try_exec("SELEC 1").get()) == PGRES_FATAL_ERROR);

  const std::string text = scrape(p);
  CHECK(metric(text, "pgcache_queries_total{status=\"cache_hit\"}") == 1);
  CHECK(metric(text, "pgcache_queries_total{status=\"cache_miss\"}") == 1);
  CHECK(metric(text, "pgcache_queries_total{status=\"uncacheable\"}") == static_cast<double>(uncacheable.size()));
  CHECK(metric(text, "pgcache_queries_total{status=\"unsupported\"}") == 2);  // CREATE TEMP TABLE, INSERT
  CHECK(metric(text, "pgcache_queries_total{status=\"parse_error\"}") == 1);

  for (const auto& e : uncacheable) {
    INFO(e.sql);
    auto q = query_entry(p.metrics_port(), fingerprint(e.sql));
    REQUIRE(q.is_object());
    CHECK(q["cacheable"] == false);
    CHECK(q["uncacheable_reason"]["category"] == e.category);
    CHECK(q["uncacheable_reason"]["details"] == e.details);
  }
  auto hit = query_entry(p.metrics_port(), fingerprint(cached));
  REQUIRE(hit.is_object());
  CHECK(hit["cacheable"] == true);
  CHECK(hit["cache_hits"] == 1);
  CHECK(hit["cache_misses"] == 1);
  CHECK(hit["execution_count"] == 2);
  CHECK(hit["tables"] == nlohmann::json::array({"t"}));
  CHECK(hit["avg_rows_returned"] == 2.0);
  CHECK(hit["uncacheable_reason"].is_null());
  auto insert = query_entry(p.metrics_port(), fingerprint("INSERT INTO t VALUES (3, 'c')"));
  REQUIRE(insert.is_object());
  CHECK(insert["cacheable"] == false);
  CHECK(insert["tables"] == nlohmann::json::array({"t"}));
}

TEST_CASE("writes through the proxy and straight to PostgreSQL invalidate", "[integration]") {
  test_database db;
  connection direct(db.direct());
  direct.exec("CREATE TABLE items (id int PRIMARY KEY, n int)");
  direct.exec("INSERT INTO items VALUES (1, 10)");
  proxy_process p(db.direct(), db.name());
  p.wait_ready();
  connection c(p.conninfo(db.name()));
  const std::string count = "SELECT count(*), sum(n) FROM items";

  CHECK(c.scalar(count) == "1");
  CHECK(c.scalar(count) == "1");
  CHECK(queries(p, "cache_hit") == 1);

  // Through the proxy: the very next read sees the write. (The change feed
  // then reports the same insert and drops the refilled entry once more.)
  c.exec("INSERT INTO items VALUES (2, 20)");
  CHECK(c.scalar(count) == "2");
  CHECK(eventually([&] { return c.scalar(count) == "2" && queries(p, "cache_hit") >= 2; }));

  // Straight to PostgreSQL: the change feed invalidates.
  direct.exec("INSERT INTO items VALUES (3, 30)");
  CHECK(eventually([&] { return c.scalar(count) == "3"; }));
  direct.exec("UPDATE items SET n = 0 WHERE id = 1");
  CHECK(eventually([&] { return c.scalar("SELECT n FROM items WHERE id = 1") == "0"; }));
  c.scalar(count);
  direct.exec("DELETE FROM items WHERE id = 3");
  CHECK(eventually([&] { return c.scalar(count) == "2"; }));

  // A read may go to PostgreSQL (its entry refused a moment before) and see
  // the delete before the feed has: the counts come once the feed has too.
  std::string text;
  CHECK(eventually([&] {
    text = scrape(p);
    return metric(text, "pgcache_cdc_events_total{type=\"delete\"}") >= 1;
  }));
  CHECK(metric(text, "pgcache_cdc_events_total{type=\"insert\"}") >= 2);
  CHECK(metric(text, "pgcache_cdc_events_total{type=\"update\"}") >= 1);
  CHECK(metric(text, "pgcache_cdc_events_total{type=\"delete\"}") >= 1);
  CHECK(metric(text, "pgcache_invalidations_total") >= 3);
  CHECK(metric(text, "pgcache_connections_active") == 1);
}

TEST_CASE("a hit replays the origin's rows byte for byte", "[integration]") {
  test_database db;
  connection direct(db.direct());
  direct.exec(
      "CREATE TABLE mixed (id int PRIMARY KEY, t text, b bytea, x numeric, f float8);"
      "INSERT INTO mixed VALUES (1, 'one', '\\x00ff10', 1.50, 0.1), (2, NULL, NULL, NULL, NULL),"
      " (3, '', '\\x', -0, 'NaN'), (4, 'ünï', '\\x00', 12345678901234567890.123, 1e300);"
      "CREATE TABLE stamps (at timestamptz); INSERT INTO stamps VALUES ('2026-01-01 00:00:00+00')");
  proxy_process p(db.direct(), db.name());
  p.wait_ready();
  connection c(p.conninfo(db.name()));

  const std::string simple = "SELECT * FROM mixed ORDER BY id";
  auto origin = take(direct.exec(simple).get());
  auto miss = take(c.exec(simple).get());
  auto replay = take(c.exec(simple).get());
  CHECK(miss == origin);
  CHECK(replay == origin);

  // Extended protocol, a binary int4 parameter and binary results.
  const char* sql = "SELECT * FROM mixed WHERE id <= $1 ORDER BY id";
  const std::uint32_t be3 = htonl(3);
  const char* values[] = {reinterpret_cast<const char*>(&be3)};
  const int lengths[] = {4};
  const int formats[] = {1};
  auto run = [&](connection& conn, int result_format) {
    result r(PQexecParams(conn.get(), sql, 1, nullptr, values, lengths, formats, result_format), &PQclear);
    return take(r.get());
  };
  for (int result_format : {0, 1}) {
    INFO("result format " << result_format);
    auto expected = run(direct, result_format);
    CHECK(run(c, result_format) == expected);
    CHECK(run(c, result_format) == expected);
  }
  // A named prepared statement.
  result prep(PQprepare(c.get(), "by_id", "SELECT t, b FROM mixed WHERE id = $1", 1, nullptr), &PQclear);
  REQUIRE(PQresultStatus(prep.get()) == PGRES_COMMAND_OK);
  const char* two[] = {"2"};
  for (int i = 0; i < 2; ++i) {
    result r(PQexecPrepared(c.get(), "by_id", 1, two, nullptr, nullptr, 0), &PQclear);
    auto s = take(r.get());
    REQUIRE(s.rows.size() == 1);
    CHECK(s.rows[0][0].first);  // NULL text
    CHECK(s.rows[0][1].first);  // NULL bytea
  }
  // Settings change how values are written: sessions that differ share no entry.
  connection utc(p.conninfo(db.name()));
  connection tokyo(p.conninfo(db.name()));
  utc.exec("SET TimeZone = 'UTC'");
  tokyo.exec("SET TimeZone = 'Asia/Tokyo'");
  for (int i = 0; i < 2; ++i) {
    CHECK(utc.scalar("SELECT at FROM stamps") == "2026-01-01 00:00:00+00");
    CHECK(tokyo.scalar("SELECT at FROM stamps") == "2026-01-01 09:00:00+09");
  }
  CHECK(queries(p, "cache_hit") == 6);
  CHECK(queries(p, "cache_miss") == 6);
}

TEST_CASE("pgcache_bytes_total counts every byte, both ways", "[integration]") {
  proxied env;
  const auto& p = env.proxy;
  connection(env.db.direct()).exec("CREATE TABLE pairs (id int); INSERT INTO pairs VALUES (1), (2)");
  connection c(env.conninfo());
  auto bytes = [&](const std::string& text, const char* direction) {
    return metric(text, std::string("pgcache_bytes_total{direction=\"") + direction + "\"}");
  };
  // The proxy counts a reply once its write completes, which may be just
  // after the client has read it: the login's reply too. So the count before
  // the queries is taken once it has held still for 100 ms.
  std::string before = scrape(p);
  REQUIRE(eventually([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::string again = scrape(p);
    const bool still = bytes(again, "client_out") == bytes(before, "client_out");
    before = std::move(again);
    return still;
  }));
  const std::string sql = "SELECT id FROM pairs ORDER BY id";
  const double query_bytes = 1 + 4 + static_cast<double>(sql.size()) + 1;
  const auto from_origin = static_cast<double>(raw_query(c, sql));  // a miss
  const auto from_cache = static_cast<double>(raw_query(c, sql));   // a hit, the same bytes
  CHECK(from_cache == from_origin);
  std::string after;
  // The proxy counts a reply once it is written, which may be just after
  // the client has read it.
  CHECK(eventually([&] {
    after = scrape(p);
    return bytes(after, "client_out") - bytes(before, "client_out") == from_origin + from_cache;
  }));
  CHECK(bytes(after, "client_in") - bytes(before, "client_in") == 2 * query_bytes);
  CHECK(bytes(after, "origin_out") - bytes(before, "origin_out") == query_bytes);
  CHECK(bytes(after, "origin_in") - bytes(before, "origin_in") == from_origin);
  CHECK(queries(p, "cache_hit") == 1);
}

TEST_CASE("promtool accepts a live scrape", "[integration]") {
  proxied env;
  const auto& p = env.proxy;
  connection c(env.conninfo());
  run_mix(c);
  c.try_exec("SELEC");
  const char* tmp = std::getenv("TMPDIR");
  std::string file = std::string(tmp ? tmp : "/tmp") + "/proxy_scrape_" + unique_suffix() + ".prom";
  {
    FILE* f = std::fopen(file.c_str(), "w");
    REQUIRE(f);
    std::string body = scrape(p);
    std::fwrite(body.data(), 1, body.size(), f);
    std::fclose(f);
  }
  int rc = std::system(("promtool check metrics < " + file).c_str());
  std::remove(file.c_str());
  CHECK(rc == 0);
}

TEST_CASE("bad input loses nothing", "[integration]") {
  test_database db;
  proxy_process p(db.direct(), db.name(), {"--max-message-bytes", "8388608"});
  p.wait_ready();

  SECTION("a malformed message gets a protocol error, and the proxy serves on") {
    connection c(p.conninfo(db.name()));
    const char bad_length[] = {'Q', 0, 0, 0, 2};
    REQUIRE(send(PQsocket(c.get()), bad_length, sizeof bad_length, 0) == sizeof bad_length);
    auto r = c.try_exec("SELECT 1");
    CHECK(PQresultStatus(r.get()) == PGRES_FATAL_ERROR);
    CHECK(std::string(PQerrorMessage(c.get())).find("invalid message length") != std::string::npos);

    connection d(p.conninfo(db.name()));
    const char truncated_bind[] = {'B', 0, 0, 0, 5, 'x'};
    REQUIRE(send(PQsocket(d.get()), truncated_bind, sizeof truncated_bind, 0) == sizeof truncated_bind);
    const char sync[] = {'S', 0, 0, 0, 4};
    REQUIRE(send(PQsocket(d.get()), sync, sizeof sync, 0) == sizeof sync);
    CHECK(PQresultStatus(d.try_exec("SELECT 1").get()) == PGRES_FATAL_ERROR);

    connection e(p.conninfo(db.name()));
    CHECK(e.scalar("SELECT 41 + 1") == "42");
  }

  SECTION("a query of several MB passes; one over the limit is refused cleanly") {
    connection c(p.conninfo(db.name()));
    std::string big = "SELECT length('" + std::string(5 << 20, 'a') + "')";
    CHECK(c.scalar(big) == std::to_string(5 << 20));
    std::string huge = "SELECT length('" + std::string(9 << 20, 'a') + "')";
    CHECK(PQresultStatus(c.try_exec(huge).get()) == PGRES_FATAL_ERROR);
    CHECK(std::string(PQerrorMessage(c.get())).find("exceeds the limit") != std::string::npos);
    connection d(p.conninfo(db.name()));
    CHECK(d.scalar("SELECT 7") == "7");
  }

  SECTION("a parse error mid-transaction aborts only that transaction") {
    connection c(p.conninfo(db.name()));
    c.exec("BEGIN");
    c.exec("SELECT 1");
    CHECK(PQresultStatus(c.try_exec("SELEC 1").get()) == PGRES_FATAL_ERROR);
    auto aborted = c.try_exec("SELECT 2");
    const char* sqlstate = PQresultErrorField(aborted.get(), PG_DIAG_SQLSTATE);
    CHECK(std::string(sqlstate ? sqlstate : "") == "25P02");
    c.exec("ROLLBACK");
    CHECK(c.scalar("SELECT 3") == "3");
    CHECK(queries(p, "parse_error") == 1);
  }

  SECTION("garbage instead of a startup packet") {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(p.port());
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    const char garbage[] = {0, 0, 0, 3, 'x', 'y', 'z', 'w'};
    REQUIRE(send(fd, garbage, sizeof garbage, 0) == sizeof garbage);
    char reply = 0;
    CHECK(recv(fd, &reply, 1, 0) == 1);
    CHECK(reply == 'E');
    close(fd);
    connection c(p.conninfo(db.name()));
    CHECK(c.scalar("SELECT 'still here'") == "still here");
  }
}

TEST_CASE("a slot another consumer holds: the proxy refuses to start", "[integration]") {
  test_database db;
  const std::string slot = db.name() + "_busy";
  connection admin(db.direct());
  admin.exec("SELECT pg_create_logical_replication_slot('" + slot + "', 'test_decoding')");
  // A walsender streaming from the slot keeps it active.
  connection holder(db.direct() + " replication=database");
  result streaming(PQexec(holder.get(), ("START_REPLICATION SLOT " + slot + " LOGICAL 0/0").c_str()), &PQclear);
  REQUIRE(PQresultStatus(streaming.get()) == PGRES_COPY_BOTH);

  auto refused = run_until_exit({"--origin", db.direct(), "--slot", slot, "--listen", "127.0.0.1:0",
                                 "--metrics-listen", "127.0.0.1:0"});
  CHECK(refused.exit_code == 1);
  CHECK_THAT(refused.stderr_text, Catch::Contains("replication slot " + slot + " exists already (active: "));
}

TEST_CASE("the collector writes the seed's tables through the proxy", "[integration]") {
  proxied env;
  const auto& p = env.proxy;
  connection c(env.conninfo());
  run_mix(c);
  const std::string instance = "3f2504e0-4f89-11d3-9a0c-0305e82c3301";
  const std::string collector = std::string(OBS_PROXY_COLLECTOR_BIN) + " --once --metrics 127.0.0.1:" +
                                std::to_string(p.metrics_port()) + " --instance-id " + instance + " --database '" +
                                env.conninfo() + "'";
  REQUIRE(std::system(collector.c_str()) == 0);

  connection direct(env.db.direct());
  auto snap = direct.exec(
      "SELECT queries_cache_hit, queries_uncacheable, latency_cache_p50_ms IS NOT NULL, "
      "latency_origin_p99_ms > 0, connections_active FROM metrics_snapshots");
  REQUIRE(PQntuples(snap.get()) == 1);
  CHECK(std::string(PQgetvalue(snap.get(), 0, 0)) == "1");
  CHECK(std::string(PQgetvalue(snap.get(), 0, 1)) == "1");
  CHECK(std::string(PQgetvalue(snap.get(), 0, 2)) == "t");
  CHECK(std::string(PQgetvalue(snap.get(), 0, 3)) == "t");
  CHECK(std::string(PQgetvalue(snap.get(), 0, 4)) == "2");  // this test's client and the collector
  CHECK(direct.scalar("SELECT uncacheable_reason->>'category' FROM query_stats WHERE sql_template = 'SELECT now()'") ==
        "NonDeterministicFunction");
  CHECK(direct.scalar("SELECT cache_hits FROM query_stats WHERE sql_template = 'SELECT $1'") == "1");

  // Retention: a week-old snapshot goes on the next run; query_stats upserts.
  direct.exec("INSERT INTO metrics_snapshots (instance_id, collected_at) VALUES ('" + instance +
              "', NOW() - INTERVAL '8 days')");
  c.exec("SELECT 1");
  REQUIRE(std::system(collector.c_str()) == 0);
  CHECK(direct.scalar("SELECT count(*) FROM metrics_snapshots") == "2");
  CHECK(direct.scalar("SELECT count(*) FROM metrics_snapshots WHERE collected_at < NOW() - INTERVAL '7 days'") == "0");
  CHECK(direct.scalar("SELECT execution_count FROM query_stats WHERE sql_template = 'SELECT $1'") == "3");
}

TEST_CASE("the origin restarts: a clean error, then the proxy and its change feed carry on", "[integration]") {
  char dir_template[] = "/tmp/proxy_cluster_XXXXXX";
  REQUIRE(mkdtemp(dir_template));
  const std::string dir = dir_template;
  REQUIRE(chmod(dir.c_str(), 0755) == 0);
  const std::string port = std::to_string(obs_test::free_port());
  const std::string password = "proxy-" + unique_suffix();
  const std::string cluster = std::string("bash ") + OBS_PG_CLUSTER + " ";
  auto start = [&] { return std::system((cluster + "start " + dir + " " + port + " " + password).c_str()) == 0; };
  auto stop = [&] { std::system((cluster + "stop " + dir).c_str()); };
  REQUIRE(start());
  struct cleanup {
    std::function<void()> f;
    ~cleanup() { f(); }
  } remove_cluster{[&] {
    stop();
    std::system(("rm -rf " + dir).c_str());
  }};
  const std::string origin = "host=127.0.0.1 port=" + port + " user=postgres password=" + password + " dbname=postgres";
  {
    connection direct(origin);
    direct.exec("CREATE TABLE r (id int)");
  }
  {
    proxy_process p(origin, "proxy_restart");
    p.wait_ready();
    auto through = [&] {
      return "host=127.0.0.1 port=" + std::to_string(p.port()) + " user=postgres password=" + password +
             " dbname=postgres";
    };
    connection c(through());
    CHECK(c.scalar("SELECT count(*) FROM r") == "0");
    CHECK(c.scalar("SELECT count(*) FROM r") == "0");
    CHECK(queries(p, "cache_hit") == 1);

    stop();
    // PostgreSQL's own words: FATAL 57P01, terminating connection due to
    // administrator command.
    auto lost = c.try_exec("SELECT count(*) FROM r");
    CHECK(PQresultStatus(lost.get()) == PGRES_FATAL_ERROR);
    INFO(PQerrorMessage(c.get()));
    CHECK(std::string(PQerrorMessage(c.get())).find("terminating connection due to administrator command") !=
          std::string::npos);
    CHECK(eventually([&] { return http_get(p.metrics_port(), "/health").status == 503; }));

    REQUIRE(start());
    p.wait_ready();
    connection again(through());
    CHECK(again.scalar("SELECT count(*) FROM r") == "0");
    connection direct(origin);
    direct.exec("INSERT INTO r VALUES (1)");
    CHECK(eventually([&] { return again.scalar("SELECT count(*) FROM r") == "1"; }));
  }
  // The proxy's temporary slot went with it.
  connection direct(origin);
  CHECK(direct.scalar("SELECT count(*) FROM pg_replication_slots") == "0");
}

TEST_CASE("every alert expression finds the proxy's series in a real Prometheus", "[integration][monitoring]") {
  proxied env;
  connection c(env.conninfo());
  run_mix(c);
  const std::string tools = std::string(OBS_PROXY_SOURCE_DIR) + "/../common/monitoring";
  const std::string rules = std::string(OBS_PROXY_SOURCE_DIR) + "/prometheus/alerts/pgcache.rules.yml";
  const std::string command = "python3 '" + tools + "/check_queries.py' --prometheus \"$(command -v prometheus)\"" +
                              " --target 127.0.0.1:" + std::to_string(env.proxy.metrics_port()) + " --rules '" +
                              rules + "' --require-data --allow-empty-alerts 2>&1";
  FILE* out = popen(command.c_str(), "r");
  REQUIRE(out);
  std::string text;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, out)) > 0;) text.append(buf, n);
  const int rc = pclose(out);
  INFO(text);
  CHECK(rc == 0);
}
