// Integration tests: the pooler binary against a real PostgreSQL (the shared
// one from OBS_TEST_PG_*, or a cluster of the test's own where PostgreSQL
// must stop), with libpq, psql, pgbench, curl and promtool as clients. The
// pooler under faults is faults_test.cpp.
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "support.hpp"

using namespace pooler_test;

TEST_CASE("auth_query: alice logs in, SHOW POOLS, SHOW CLIENTS, SHOW AUTH_QUERY_CACHE and /metrics show it", "[bdd]") {
  auto pg = shared_pg();
  auto sfx = random_suffix();
  std::string alice = "pooler_alice_" + sfx, bob = "pooler_bob_" + sfx, db = "aq" + sfx;
  pg.scram_role(alice, "alice-pw");
  pg.scram_role(bob, "bob-pw");
  pooler_process pooler(database_section(db, pg) + user_section(db, bob, "bob-pw") +
                        auth_query_section(db, pg));

  // Given "alice" authenticated via auth_query
  client_conn c(pooler.client(db, alice, "alice-pw"));
  INFO(c.error() << pooler.log());
  REQUIRE(c.ok());
  CHECK(c.value("SELECT current_user") == alice);

  // When admin runs SHOW POOLS, then alice's pool shows source auth_query
  auto [pools, rc] = pooler.admin("SHOW POOLS");
  REQUIRE(rc == 0);
  auto alice_pool = fields(row_with(pools, db + "|" + alice + "|"));
  REQUIRE(alice_pool.size() == 18);
  CHECK(alice_pool.back() == "auth_query");
  CHECK(alice_pool[15] == "transaction");
  CHECK(fields(row_with(pools, db + "|" + bob + "|")).back() == "config");

  auto clients = pooler.admin("SHOW CLIENTS").first;
  CHECK(fields(row_with(clients, "C|" + alice + "|" + db + "|")).back() == "auth_query");

  // SHOW AUTH_QUERY_CACHE shows alice with password_type and cached_at
  auto cache = pooler.admin("show auth_query_cache;").first;
  auto entry = fields(row_with(cache, db + "|" + alice + "|"));
  REQUIRE(entry.size() == 7);
  CHECK(entry[2] == "SCRAM");
  CHECK(shaped(entry[3], "9999-99-99 99:99:99"));
  CHECK(seconds_text(entry[4]));
  CHECK(entry[5] == "false");
  CHECK(entry[6] == "never");

  auto executors = fields(row_with(pooler.admin("SHOW AUTH_QUERY_EXECUTORS").first, db + "|"));
  REQUIRE(executors.size() == 6);
  CHECK(executors[3] == "2");
  CHECK(executors[5] == "ready");

  // A second login is a cache hit and shares the pool.
  client_conn c2(pooler.client(db, alice, "alice-pw"));
  REQUIRE(c2.ok());
  client_conn b(pooler.client(db, bob, "bob-pw"));
  REQUIRE(b.ok());
  CHECK(b.value("SELECT current_user") == bob);

  // Prometheus metrics for auth_query, with the right values.
  auto scrape = pooler.scrape();
  std::string label = "{database=\"" + db + "\"}";
  CHECK(metric(scrape, "pg_doorman_auth_query_cache_hits_total" + label) == 1);
  CHECK(metric(scrape, "pg_doorman_auth_query_cache_misses_total" + label) == 1);
  CHECK(metric(scrape, "pg_doorman_auth_query_cache_refetches_total" + label) == 0);
  CHECK(metric(scrape, "pg_doorman_auth_query_cache_rate_limited_total" + label) == 0);
  CHECK(metric(scrape, "pg_doorman_auth_query_executor_active_connections" + label) == 0);
  CHECK(metric(scrape, "pg_doorman_auth_query_executor_errors_total" + label) == 0);
  CHECK(metric(scrape, "pg_doorman_auth_query_dynamic_pools" + label) == 1);
  CHECK(metric(scrape, "pg_doorman_auth_query_dynamic_pools_created_total" + label) == 1);
  CHECK(metric(scrape, "pg_doorman_auth_query_dynamic_pools_destroyed_total" + label) == 0);
  std::string service = "service=\"" + db + "/" + alice + "\"";
  CHECK(metric(scrape, "db_pool_connections{" + service + ",state=\"max\"}") == 20);
  CHECK(metric(scrape, "db_pool_connections{" + service + ",state=\"idle\"}") == 1);
  CHECK(metric(scrape, "db_pool_connections{" + service + ",state=\"active\"}") == 0);
  CHECK(metric(scrape, "db_pool_connections{" + service + ",state=\"waiting\"}") == 0);
  CHECK(metric(scrape, "db_pool_connection_errors_total{" + service + ",error_type=\"timeout\"}") == 0);
  CHECK(metric(scrape, "db_pool_acquire_duration_seconds_count{" + service + "}") >= 2);
  CHECK(scrape.find("# HELP pg_doorman_auth_query_cache_misses_total Number of auth_query cache misses (triggered PG query)") !=
        std::string::npos);

  // promtool check metrics on a live scrape.
  auto [lint, lint_rc] = run("curl -sf " + pooler.metrics_url() + " | promtool check metrics");
  INFO(lint);
  CHECK(lint_rc == 0);
}

TEST_CASE("auth_query: wrong password, unknown user (negative cache), rate-limited re-fetch", "[auth]") {
  auto pg = shared_pg();
  auto sfx = random_suffix();
  std::string alice = "pooler_alice_" + sfx, db = "neg" + sfx;
  pg.scram_role(alice, "alice-pw");
  pooler_process pooler(database_section(db, pg) + auth_query_section(db, pg, "min_interval = 60\n"));
  std::string label = "{database=\"" + db + "\"}";
  {
    client_conn ok(pooler.client(db, alice, "alice-pw"));
    REQUIRE(ok.ok());
  }
  // A wrong password against a cached entry re-fetches once...
  client_conn wrong(pooler.client(db, alice, "nope"));
  CHECK_FALSE(wrong.ok());
  CHECK(wrong.error().find("password authentication failed") != std::string::npos);
  auto scrape = pooler.scrape();
  CHECK(metric(scrape, "pg_doorman_auth_query_cache_refetches_total" + label) == 1);
  CHECK(metric(scrape, "pg_doorman_auth_query_cache_rate_limited_total" + label) == 0);
  // ...and the next failure within min_interval is rate limited.
  client_conn wrong2(pooler.client(db, alice, "nope"));
  CHECK_FALSE(wrong2.ok());
  scrape = pooler.scrape();
  CHECK(metric(scrape, "pg_doorman_auth_query_cache_refetches_total" + label) == 1);
  CHECK(metric(scrape, "pg_doorman_auth_query_cache_rate_limited_total" + label) == 1);
  auto entry = fields(row_with(pooler.admin("SHOW AUTH_QUERY_CACHE").first, db + "|" + alice + "|"));
  REQUIRE(entry.size() == 7);
  CHECK(shaped(entry[6], "99:99:99"));

  // An unknown user is fetched once, then answered from the negative cache.
  std::string ghost = "pooler_ghost_" + sfx;
  client_conn g1(pooler.client(db, ghost, "x"));
  CHECK_FALSE(g1.ok());
  client_conn g2(pooler.client(db, ghost, "x"));
  CHECK_FALSE(g2.ok());
  scrape = pooler.scrape();
  // misses: alice once and the ghost once; hits: alice twice, the ghost once.
  CHECK(metric(scrape, "pg_doorman_auth_query_cache_misses_total" + label) == 2);
  CHECK(metric(scrape, "pg_doorman_auth_query_cache_hits_total" + label) == 3);
  auto negative = fields(row_with(pooler.admin("SHOW AUTH_QUERY_CACHE").first, db + "|" + ghost + "|"));
  REQUIRE(negative.size() == 7);
  CHECK(negative[2] == "-");
  CHECK(negative[5] == "true");
  // No pool for users that failed.
  CHECK(row_with(pooler.admin("SHOW POOLS").first, db + "|" + ghost + "|").empty());
  CHECK(metric(scrape, "pg_doorman_auth_query_dynamic_pools" + label) == 1);
}

TEST_CASE("auth_query: concurrent logins of one user share one fetch", "[auth]") {
  auto pg = shared_pg();
  auto sfx = random_suffix();
  std::string dave = "pooler_dave_" + sfx, db = "co" + sfx;
  pg.scram_role(dave, "dave-pw");
  pooler_process pooler(database_section(db, pg) + auth_query_section(db, pg));
  std::vector<std::thread> logins;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i)
    logins.emplace_back([&] {
      client_conn c(pooler.client(db, dave, "dave-pw"));
      if (c.ok()) ++ok;
    });
  for (auto& t : logins) t.join();
  CHECK(ok == 8);
  auto scrape = pooler.scrape();
  std::string label = "{database=\"" + db + "\"}";
  CHECK(metric(scrape, "pg_doorman_auth_query_cache_misses_total" + label) == 1);
  CHECK(metric(scrape, "pg_doorman_auth_query_cache_hits_total" + label) == 7);
  CHECK(metric(scrape, "pg_doorman_auth_query_dynamic_pools_created_total" + label) == 1);
}

TEST_CASE("auth_query: executor errors while PostgreSQL is stopped, recovery, and MD5 pass-the-hash", "[cluster]") {
  pg_cluster cluster;
  {
    auto pg = cluster.admin();
    auto sfx = random_suffix();
    std::string alice = "pooler_alice_" + sfx, carol = "pooler_carol_" + sfx, mallory = "pooler_md5_" + sfx;
    pg.scram_role(alice, "alice-pw");
    pg.scram_role(carol, "carol-pw");
    pg.md5_role(mallory, "md5-pw");
    // Let the md5 role log in with md5 over TCP; everyone else keeps SCRAM.
    std::string hba = cluster.dir() + "/data/pg_hba.conf";
    run("sed -i '1i host all " + mallory + " 127.0.0.1/32 md5' " + quote(hba) + " && chown postgres: " + quote(hba));
    pg.exec("SELECT pg_reload_conf()");
    std::string db = "down" + sfx;
    pooler_process pooler(database_section(db, pg, "pool_size = 2\n") + auth_query_section(db, pg, "dbname = \"postgres\"\n"));
    std::string label = "{database=\"" + db + "\"}";

    client_conn m(pooler.client(db, mallory, "md5-pw"));
    INFO(m.error());
    REQUIRE(m.ok());
    CHECK(m.value("SELECT current_user") == mallory);
    CHECK(fields(row_with(pooler.admin("SHOW AUTH_QUERY_CACHE").first, db + "|" + mallory + "|")).at(2) == "MD5");
    {
      client_conn a(pooler.client(db, alice, "alice-pw"));
      REQUIRE(a.ok());
    }
    cluster.stop();
    // carol is not cached: the executor cannot reach PostgreSQL.
    client_conn down(pooler.client(db, carol, "carol-pw"));
    CHECK_FALSE(down.ok());
    CHECK(down.error().find("auth_query failed") != std::string::npos);
    CHECK(metric(pooler.scrape(), "pg_doorman_auth_query_executor_errors_total" + label) >= 1);
    // alice is cached and her pool knows the server's parameters, so she
    // logs in; her first query finds no server.
    client_conn cached(pooler.client(db, alice, "alice-pw"));
    REQUIRE(cached.ok());
    CHECK(cached.fails("SELECT 1"));
    auto executors = fields(row_with(pooler.admin("SHOW AUTH_QUERY_EXECUTORS").first, db + "|"));
    REQUIRE(executors.size() == 6);

    cluster.start();
    client_conn back(pooler.client(db, carol, "carol-pw"));
    INFO(back.error());
    REQUIRE(back.ok());
    CHECK(back.value("SELECT current_user") == carol);
    client_conn again(pooler.client(db, alice, "alice-pw"));
    REQUIRE(again.ok());
    CHECK(again.value("SELECT 40 + 2") == "42");
  }
}

TEST_CASE("auth_query: an idle dynamic pool is garbage-collected and its series removed", "[gc]") {
  auto pg = shared_pg();
  auto sfx = random_suffix();
  std::string alice = "pooler_alice_" + sfx, db = "gc" + sfx;
  pg.scram_role(alice, "alice-pw");
  pooler_process pooler("gc_interval = 0.2\n" + database_section(db, pg) + auth_query_section(db, pg, "idle_timeout = 1\n"));
  std::string service = "db_pool_connections{service=\"" + db + "/" + alice + "\",state=\"max\"}";
  std::string label = "{database=\"" + db + "\"}";
  {
    client_conn a(pooler.client(db, alice, "alice-pw"));
    REQUIRE(a.ok());
    CHECK(metric(pooler.scrape(), service) == 20);
  }
  CHECK(eventually([&] { return !metric(pooler.scrape(), service); }));
  auto scrape = pooler.scrape();
  CHECK(scrape.find("service=\"" + db + "/" + alice + "\"") == std::string::npos);
  CHECK(metric(scrape, "pg_doorman_auth_query_dynamic_pools" + label) == 0);
  CHECK(metric(scrape, "pg_doorman_auth_query_dynamic_pools_destroyed_total" + label) == 1);
  CHECK(row_with(pooler.admin("SHOW POOLS").first, db + "|" + alice + "|").empty());
}

TEST_CASE("RELOAD re-reads the config, clears the cache and destroys dynamic pools", "[reload]") {
  auto pg = shared_pg();
  auto sfx = random_suffix();
  std::string alice = "pooler_alice_" + sfx, bob = "pooler_bob_" + sfx, db = "rl" + sfx;
  pg.scram_role(alice, "alice-pw");
  pg.scram_role(bob, "bob-pw");
  std::string base = database_section(db, pg) + auth_query_section(db, pg);
  pooler_process pooler(base);
  std::string label = "{database=\"" + db + "\"}";
  {
    client_conn a(pooler.client(db, alice, "alice-pw"));
    REQUIRE(a.ok());
  }
  CHECK_FALSE(row_with(pooler.admin("SHOW AUTH_QUERY_CACHE").first, db + "|" + alice + "|").empty());

  // bob becomes a static user with a pool of 3.
  pooler.write_config(base + user_section(db, bob, "bob-pw", "pool_size = 3\n"));
  auto [out, rc] = pooler.admin("RELOAD");
  INFO(out);
  CHECK(rc == 0);
  auto pools = pooler.admin("SHOW POOLS").first;
  CHECK(row_with(pools, db + "|" + alice + "|").empty());
  CHECK(fields(row_with(pools, db + "|" + bob + "|")).back() == "config");
  CHECK(row_with(pooler.admin("SHOW AUTH_QUERY_CACHE").first, db + "|" + alice + "|").empty());
  auto scrape = pooler.scrape();
  CHECK(metric(scrape, "pg_doorman_auth_query_dynamic_pools_destroyed_total" + label) == 1);
  CHECK(metric(scrape, "pg_doorman_auth_query_dynamic_pools" + label) == 0);
  CHECK(metric(scrape, "db_pool_connections{service=\"" + db + "/" + bob + "\",state=\"max\"}") == 3);
  CHECK_FALSE(metric(scrape, "db_pool_connections{service=\"" + db + "/" + alice + "\",state=\"max\"}"));
  client_conn b(pooler.client(db, bob, "bob-pw"));
  REQUIRE(b.ok());

  // A broken config is refused with the key named, and the old one stays.
  pooler.write_config(base + user_section(db, bob, "bob-pw", "pool_size = \"many\"\n"));
  auto [bad, bad_rc] = pooler.admin("RELOAD");
  CHECK(bad_rc != 0);
  CHECK(bad.find(".users." + bob + ".pool_size") != std::string::npos);
  CHECK(metric(pooler.scrape(), "db_pool_connections{service=\"" + db + "/" + bob + "\",state=\"max\"}") == 3);
}

TEST_CASE("50 concurrent pgbench clients share a pool of 10, the db_pool_* counts are exact afterwards", "[load]") {
  auto pg = shared_pg();
  auto sfx = random_suffix();
  std::string user = "pooler_bench_" + sfx, db = "load" + sfx;
  pg.scram_role(user, "bench-pw");
  pooler_process pooler(database_section(db, pg) + user_section(db, user, "bench-pw", "pool_size = 10\n"));
  std::ofstream(pooler.dir() + "/script.sql") << "BEGIN;\nSELECT 1;\nSELECT pg_sleep(0.001);\nEND;\n";
  auto [out, rc] = run("PGPASSWORD=bench-pw pgbench -n -c 50 -j 2 -T 3 -h 127.0.0.1 -p " + pooler.port_text() + " -U " +
                       user + " -f " + quote(pooler.dir() + "/script.sql") + " " + db);
  INFO(out);
  REQUIRE(rc == 0);
  const std::string processed_label = "number of transactions actually processed: ";
  auto at = out.find(processed_label);
  REQUIRE(at != std::string::npos);
  double processed = std::stod(out.substr(at + processed_label.size()));
  CHECK(processed > 0);
  CHECK(out.find("number of failed transactions: 0 ") != std::string::npos);
  std::string service = "service=\"" + db + "/" + user + "\"";
  auto scrape = pooler.scrape();
  CHECK(metric(scrape, "db_pool_connections{" + service + ",state=\"active\"}") == 0);
  CHECK(metric(scrape, "db_pool_connections{" + service + ",state=\"idle\"}") == 10);
  CHECK(metric(scrape, "db_pool_connections{" + service + ",state=\"max\"}") == 10);
  CHECK(metric(scrape, "db_pool_connections{" + service + ",state=\"waiting\"}") == 0);
  CHECK(metric(scrape, "db_pool_connection_errors_total{" + service + ",error_type=\"timeout\"}") == 0);
  CHECK(metric(scrape, "db_pool_connection_errors_total{" + service + ",error_type=\"closed\"}") == 0);
  CHECK(metric(scrape, "db_pool_connection_errors_total{" + service + ",error_type=\"other\"}") == 0);
  // One acquire per transaction, plus the first login's parameter fetch.
  CHECK(metric(scrape, "db_pool_acquire_duration_seconds_count{" + service + "}") == processed + 1);
  auto stats = fields(row_with(pooler.admin("SHOW STATS").first, db + "|"));
  REQUIRE(stats.size() == 15);
  CHECK(std::stod(stats[1]) == processed);
}

TEST_CASE("session mode keeps one server per client and resets it on release", "[session]") {
  auto pg = shared_pg();
  auto sfx = random_suffix();
  std::string user = "pooler_sess_" + sfx, db = "sess" + sfx;
  pg.scram_role(user, "sess-pw");
  pooler_process pooler(database_section(db, pg) + user_section(db, user, "sess-pw", "pool_size = 1\npool_mode = \"session\"\n"));
  std::string pid;
  {
    client_conn c(pooler.client(db, user, "sess-pw"));
    REQUIRE(c.ok());
    c.value("CREATE TEMP TABLE t (x int)");
    pid = c.value("SELECT pg_backend_pid()");
    c.value("PREPARE q AS SELECT 7");
    CHECK(c.value("EXECUTE q") == "7");
    CHECK(c.value("SELECT count(*) FROM t") == "0");
  }
  client_conn next(pooler.client(db, user, "sess-pw"));
  REQUIRE(next.ok());
  CHECK(eventually([&] { return next.value("SELECT pg_backend_pid()") == pid; }));
  CHECK(next.sqlstate("SELECT count(*) FROM t") == "42P01");  // DISCARD ALL dropped the temp table
}

TEST_CASE("bad input: malformed startup, oversized length, garbage, a client vanishing mid-transaction", "[bad]") {
  auto pg = shared_pg();
  auto sfx = random_suffix();
  std::string user = "pooler_bad_" + sfx, db = "bad" + sfx;
  pg.scram_role(user, "bad-pw");
  pooler_process pooler(database_section(db, pg) + user_section(db, user, "bad-pw", "pool_size = 1\n"));
  auto send_raw = [&](const std::string& bytes) {
    int fd = connect_tcp(pooler.port());
    REQUIRE(fd >= 0);
    ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    ::shutdown(fd, SHUT_WR);
    auto reply = read_all(fd);
    ::close(fd);
    return reply;
  };
  // Oversized length: refused without allocating it.
  CHECK(send_raw(be32(0x7fffffff) + be32(196608)).find("08P01") != std::string::npos);
  // Length below the minimum.
  CHECK(send_raw(be32(2) + "xxxx").find("08P01") != std::string::npos);
  // A StartupMessage without user.
  std::string no_user = be32(196608) + "database" + std::string(1, '\0') + "x" + std::string(2, '\0');
  CHECK(send_raw(be32(static_cast<std::uint32_t>(no_user.size() + 4)) + no_user).find("08P01") != std::string::npos);
  // An unknown protocol version.
  CHECK(send_raw(be32(8) + be32(0x00020000)).find("08P01") != std::string::npos);
  // Garbage, and a truncated packet.
  send_raw("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  send_raw(be32(100) + "abc");
  // An SSLRequest is answered 'N'.
  CHECK(send_raw(be32(8) + be32(80877103)).substr(0, 1) == "N");

  // After login: an oversized message from a client closes it with 08P01.
  {
    client_conn c(pooler.client(db, user, "bad-pw"));
    REQUIRE(c.ok());
    auto reply = c.send_raw("Q" + be32(0x7ffffff0));
    CHECK(reply.find("08P01") != std::string::npos);
    CHECK(reply.find("exceeds the limit") != std::string::npos);
  }

  // A client vanishes inside a transaction: its server is closed, never reused.
  std::string pid_in_tx;
  {
    client_conn c(pooler.client(db, user, "bad-pw"));
    REQUIRE(c.ok());
    c.value("BEGIN");
    c.value("CREATE TEMP TABLE leaked (x int)");
    pid_in_tx = c.value("SELECT pg_backend_pid()");
    ::shutdown(PQsocket(c.get()), SHUT_RDWR);  // no Terminate, no ROLLBACK
  }
  client_conn after(pooler.client(db, user, "bad-pw"));
  INFO(after.error() << pooler.log());
  REQUIRE(after.ok());
  CHECK(after.value("SELECT pg_backend_pid()") != pid_in_tx);
  CHECK(PQtransactionStatus(after.get()) == PQTRANS_IDLE);
  CHECK(after.sqlstate("SELECT * FROM leaked") == "42P01");

  // Unknown admin command: ErrorResponse 58000, and the console stays usable.
  client_conn admin(pooler.client("pgdoorman", "admin", "admin-pw"));
  REQUIRE(admin.ok());
  CHECK(admin.sqlstate("SHOW NONSENSE") == "58000");
  CHECK(admin.sqlstate("SHOW POOLS") == "");
  CHECK(admin.sqlstate("") == "");
  CHECK(admin.sqlstate("SELECT 1") == "58000");  // SQL is not an admin command
  client_conn wrong_admin(pooler.client("pgdoorman", "admin", "wrong"));
  CHECK_FALSE(wrong_admin.ok());
  client_conn unknown_db(pooler.client("nosuchdb" + sfx, user, "bad-pw"));
  CHECK_FALSE(unknown_db.ok());
  CHECK(unknown_db.error().find("no such database") != std::string::npos);

  // Still serving.
  CHECK(after.value("SELECT 1") == "1");
}

TEST_CASE("a CancelRequest reaches the server running the client's query", "[cancel]") {
  auto pg = shared_pg();
  auto sfx = random_suffix();
  std::string user = "pooler_cancel_" + sfx, db = "cancel" + sfx;
  pg.scram_role(user, "cancel-pw");
  pooler_process pooler(database_section(db, pg) + user_section(db, user, "cancel-pw"));
  client_conn c(pooler.client(db, user, "cancel-pw"));
  REQUIRE(c.ok());
  REQUIRE(PQsendQuery(c.get(), "SELECT pg_sleep(30)") == 1);
  std::this_thread::sleep_for(300ms);
  PGcancel* cancel = PQgetCancel(c.get());
  char err[256];
  CHECK(PQcancel(cancel, err, sizeof err) == 1);
  PQfreeCancel(cancel);
  PGresult* r = PQgetResult(c.get());
  const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  CHECK(std::string(state ? state : "") == "57014");
  PQclear(r);
  while ((r = PQgetResult(c.get()))) PQclear(r);
  CHECK(c.value("SELECT 2") == "2");
}

TEST_CASE("psql renders every admin reply", "[admin]") {
  auto pg = shared_pg();
  auto sfx = random_suffix();
  std::string db = "adm" + sfx;
  pooler_process pooler(database_section(db, pg) + auth_query_section(db, pg));
  for (const char* command : {"SHOW POOLS", "SHOW CLIENTS", "SHOW SERVERS", "SHOW STATS", "SHOW AUTH_QUERY_CACHE",
                              "SHOW AUTH_QUERY_EXECUTORS", "SHOW DATABASES", "SHOW LISTS", "SHOW CONFIG",
                              "SHOW VERSION", "SET extra_float_digits = 3", "show pools;", "SHOW LISTS; SHOW STATS;",
                              "RELOAD"}) {
    auto [out, rc] = run("PGPASSWORD=admin-pw psql -X -h 127.0.0.1 -p " + pooler.port_text() +
                         " -U admin -d pgbouncer -c " + quote(command));
    INFO(command << "\n" << out);
    CHECK(rc == 0);
    CHECK(out.find("ERROR") == std::string::npos);
  }
  auto [out, rc] = run("PGPASSWORD=admin-pw psql -X -h 127.0.0.1 -p " + pooler.port_text() +
                       " -U admin -d pgbouncer -c 'SHOW BOGUS'");
  CHECK(rc != 0);
  CHECK(out.find("unsupported admin command") != std::string::npos);
}

TEST_CASE("a bad config fails at start with the key named", "[config]") {
  char tmpl[] = "/tmp/pooler_badcfg_XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  std::ofstream(dir + "/p.toml") << "[databases.app]\npool_size = -1\n";
  auto [out, rc] = run(std::string(POOLER_BINARY) + " --config " + quote(dir + "/p.toml"));
  CHECK(rc == 1);
  CHECK(out.find("databases.app.pool_size") != std::string::npos);
  auto [usage, usage_rc] = run(std::string(POOLER_BINARY) + " --bogus");
  CHECK(usage_rc == 2);
  run("rm -rf " + quote(dir));
}

TEST_CASE("every dashboard panel and alert expression finds the pooler's series in a real Prometheus", "[monitoring]") {
  auto pg = shared_pg();
  auto sfx = random_suffix();
  std::string user = "pooler_dash_" + sfx, alice = "pooler_dalice_" + sfx, db = "dash" + sfx;
  pg.scram_role(user, "dash-pw");
  pg.scram_role(alice, "alice-pw");
  pooler_process pooler(database_section(db, pg) + user_section(db, user, "dash-pw", "pool_size = 4\n") +
                        auth_query_section(db, pg));
  // Traffic, so the counters and the acquire histogram have samples: a
  // static user under pgbench, and an auth_query login (a dynamic pool).
  std::ofstream(pooler.dir() + "/script.sql") << "SELECT 1;\n";
  auto [bench, bench_rc] = run("PGPASSWORD=dash-pw pgbench -n -c 4 -j 2 -t 20 -h 127.0.0.1 -p " + pooler.port_text() +
                               " -U " + user + " -f " + quote(pooler.dir() + "/script.sql") + " " + db);
  INFO(bench);
  REQUIRE(bench_rc == 0);
  client_conn c(pooler.client(db, alice, "alice-pw"));
  INFO(c.error() << pooler.log());
  REQUIRE(c.ok());

  const std::string tools = std::string(POOLER_REPO_DIR) + "/examples/common/monitoring";
  const std::string files = std::string(POOLER_SOURCE_DIR);
  auto address = pooler.metrics_url().substr(std::string("http://").size());
  address = address.substr(0, address.find('/'));
  // Every selector must match series; only alerts may be quiet.
  auto [out, rc] = run("python3 " + quote(tools + "/check_queries.py") + " --prometheus \"$(command -v prometheus)\"" +
                       " --target " + address + " --dashboard " + quote(files + "/grafana/dashboard.json") +
                       " --rules " + quote(files + "/prometheus/alerts/database.rules.yml") +
                       " --require-data --allow-empty-alerts");
  INFO(out);
  CHECK(rc == 0);
}
