// obs_proxy's one promise, class by class, against the PostgreSQL of
// OBS_TEST_PG_URL: a client sees what PostgreSQL would have answered in its
// session at that moment. Each case reproduces a way a cache can break it:
// results shared between sessions that resolve names, types, settings or
// policies differently; writes the proxy cannot name; a change feed that
// misses changes; and the protocol around them.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <thread>
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "classifier.hpp"
#include "pgwire/codec.hpp"
#include "pgwire/decoder.hpp"
#include "pgwire/messages.hpp"
#include "support.hpp"

using namespace proxy_test;

namespace {

// The values of a one-column result, in order, NULL as "NULL".
std::vector<std::string> column(connection& c, const std::string& sql) {
  result r = c.exec(sql);
  std::vector<std::string> values;
  for (int i = 0; i < PQntuples(r.get()); ++i)
    values.emplace_back(PQgetisnull(r.get(), i, 0) ? "NULL" : PQgetvalue(r.get(), i, 0));
  return values;
}

// Reads `sql` twice (a miss, then a hit where the proxy may serve one) and
// requires both answers to be `expected`.
void reads(connection& c, const std::string& sql, const std::vector<std::string>& expected) {
  INFO(sql);
  CHECK(column(c, sql) == expected);
  CHECK(column(c, sql) == expected);
}

// A database with a ready proxy in front of it, `setup` run straight on
// PostgreSQL first.
struct proxied_database {
  test_database db;
  std::unique_ptr<proxy_process> proxy;
  explicit proxied_database(const std::string& setup, std::vector<std::string> extra = {}) {
    connection direct(db.direct());
    direct.exec(setup);
    proxy = std::make_unique<proxy_process>(db.direct(), db.name(), std::move(extra));
    proxy->wait_ready();
  }
  std::string through() const { return proxy->conninfo(db.name()); }
};

// A role of its own, dropped with everything it owns at the end.
struct test_role {
  std::string name = "proxy_role_" + unique_suffix();
  std::string database;
  explicit test_role(const test_database& db) : database(db.direct()) {
    connection(database).exec("CREATE ROLE " + name);
  }
  ~test_role() {
    connection admin(database);
    admin.try_exec("DROP OWNED BY " + name);
    admin.try_exec("DROP ROLE " + name);
  }
};

// The fields of an ErrorResponse read off a raw socket, or an empty
// severity if the peer closed without one.
pgwire::error_fields read_error(int fd) {
  pgwire::decoder in;
  for (;;) {
    while (auto m = in.next())
      if (m->type == 'E') return pgwire::parse_error_response(m->body);
    pollfd readable{fd, POLLIN, 0};
    if (poll(&readable, 1, 10000) != 1) return {};
    auto room = in.prepare(4096);
    const ssize_t n = recv(fd, room.data(), room.size(), 0);
    if (n <= 0) {
      pgwire::error_fields none;
      none.severity.clear();
      return none;
    }
    in.commit(static_cast<std::size_t>(n));
  }
}

int connect_to(std::uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  return fd;
}

// Whether the peer closes `fd` within `seconds`, whatever it sends first.
bool closed_within(int fd, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  char buf[512];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd readable{fd, POLLIN, 0};
    if (poll(&readable, 1, 100) != 1) continue;
    if (recv(fd, buf, sizeof buf, 0) <= 0) return true;
  }
  return false;
}

}  // namespace

// ---- results shared between sessions ----------------------------------------

TEST_CASE("set_config('search_path') is not a shared search_path", "[integration][correctness]") {
  proxied_database env(
      "CREATE SCHEMA s2; CREATE TABLE sp (v text); INSERT INTO sp VALUES ('public');"
      "CREATE TABLE s2.sp (v text); INSERT INTO s2.sp VALUES ('s2')");
  connection fresh(env.through());
  connection moved(env.through());
  moved.exec("SELECT set_config('search_path', 's2', false)");
  reads(moved, "SELECT v FROM sp", {"s2"});
  reads(fresh, "SELECT v FROM sp", {"public"});
  reads(moved, "SELECT v FROM sp", {"s2"});
  // A session that set it back is no longer sure to be like the others,
  // but its own reads are still right.
  moved.exec("SELECT set_config('search_path', 'public', false)");
  reads(moved, "SELECT v FROM sp", {"public"});
  CHECK(queries(*env.proxy, "cache_hit") >= 1);
}

TEST_CASE("a SET that was rolled back is not in the session's state", "[integration][correctness]") {
  proxied_database env(
      "CREATE SCHEMA s2; CREATE TABLE sp (v text); INSERT INTO sp VALUES ('public');"
      "CREATE TABLE s2.sp (v text); INSERT INTO s2.sp VALUES ('s2')");
  connection undone(env.through());
  undone.exec("BEGIN");
  undone.exec("SET search_path = s2");
  undone.exec("ROLLBACK");
  reads(undone, "SELECT v FROM sp", {"public"});
  connection kept(env.through());
  kept.exec("SET search_path = s2");
  reads(kept, "SELECT v FROM sp", {"s2"});

  SECTION("and one undone by a savepoint, or by an error in its Query, neither") {
    connection partly(env.through());
    partly.exec("BEGIN");
    partly.exec("SAVEPOINT a");
    partly.exec("SET search_path = s2");
    partly.exec("ROLLBACK TO SAVEPOINT a");
    partly.exec("COMMIT");
    reads(partly, "SELECT v FROM sp", {"public"});
    connection failed(env.through());
    CHECK(PQresultStatus(failed.try_exec("SET search_path = s2; SELECT 1 / 0").get()) == PGRES_FATAL_ERROR);
    reads(failed, "SELECT v FROM sp", {"public"});
    reads(kept, "SELECT v FROM sp", {"s2"});
  }
}

TEST_CASE("row-level security by a tenant setting or by role: each tenant sees its own rows",
          "[integration][correctness]") {
  test_database db;
  test_role tenant(db);
  {
    connection direct(db.direct());
    direct.exec(
        "CREATE TABLE notes (tenant text, owner name, body text);"
        "INSERT INTO notes VALUES ('a', 'nobody', 'for a'), ('b', 'nobody', 'for b'),"
        " ('c', '" + tenant.name + "', 'owned');"
        "ALTER TABLE notes ENABLE ROW LEVEL SECURITY;"
        "CREATE POLICY by_tenant ON notes USING (tenant = current_setting('app.tenant', true) OR owner = current_user);"
        "GRANT SELECT ON notes TO " + tenant.name);
  }
  proxy_process p(db.direct(), db.name());
  p.wait_ready();
  const std::string sql = "SELECT body FROM notes ORDER BY body";

  SECTION("set_config") {
    connection a(p.conninfo(db.name())), b(p.conninfo(db.name()));
    for (auto* c : {&a, &b}) c->exec("SET ROLE " + tenant.name);
    a.exec("SELECT set_config('app.tenant', 'a', false)");
    b.exec("SELECT set_config('app.tenant', 'b', false)");
    reads(a, sql, {"for a", "owned"});
    reads(b, sql, {"for b", "owned"});
  }
  SECTION("SET, where sessions in the same state share") {
    connection a(p.conninfo(db.name())), also_a(p.conninfo(db.name())), b(p.conninfo(db.name()));
    for (auto* c : {&a, &also_a, &b}) c->exec("SET ROLE " + tenant.name);
    a.exec("SET app.tenant = 'a'");
    also_a.exec("SET app.tenant = 'a'");
    b.exec("SET app.tenant = 'b'");
    const double before = queries(p, "cache_hit");
    reads(a, sql, {"for a", "owned"});
    reads(b, sql, {"for b", "owned"});
    CHECK(column(also_a, sql) == std::vector<std::string>{"for a", "owned"});
    CHECK(queries(p, "cache_hit") - before == 3);
  }
  SECTION("a role change rolled back, and a session authorization") {
    connection undone(p.conninfo(db.name())), role(p.conninfo(db.name())), authorized(p.conninfo(db.name()));
    undone.exec("BEGIN");
    undone.exec("SET ROLE " + tenant.name);
    undone.exec("ROLLBACK");
    // Still the superuser, whom row-level security does not restrict.
    reads(undone, sql, {"for a", "for b", "owned"});
    role.exec("SET ROLE " + tenant.name);
    reads(role, sql, {"owned"});
    authorized.exec("SET SESSION AUTHORIZATION " + tenant.name);
    reads(authorized, sql, {"owned"});
  }
}

TEST_CASE("a temporary table shadows a permanent one for its session alone", "[integration][correctness]") {
  proxied_database env("CREATE TABLE t (v text); INSERT INTO t VALUES ('permanent')");
  connection other(env.through());
  connection shadowed(env.through());
  // Cached first, so that a stale answer would be there to serve.
  reads(other, "SELECT v FROM t", {"permanent"});
  reads(shadowed, "SELECT v FROM t", {"permanent"});

  SECTION("SELECT INTO TEMP") { shadowed.exec("SELECT 'temporary'::text AS v INTO TEMP TABLE t"); }
  SECTION("CREATE TEMP TABLE") {
    shadowed.exec("CREATE TEMP TABLE t (v text)");
    shadowed.exec("INSERT INTO t VALUES ('temporary')");
  }
  SECTION("a DO block") {
    shadowed.exec("DO $$ BEGIN CREATE TEMP TABLE t AS SELECT 'temporary'::text AS v; END $$");
  }
  reads(shadowed, "SELECT v FROM t", {"temporary"});
  reads(other, "SELECT v FROM t", {"permanent"});
  // Writes to the temporary table, through the proxy or not, are seen at once.
  shadowed.exec("INSERT INTO t VALUES ('more')");
  reads(shadowed, "SELECT v FROM t ORDER BY v", {"more", "temporary"});
  shadowed.exec("DO $$ BEGIN DELETE FROM t WHERE v = 'more'; END $$");
  reads(shadowed, "SELECT v FROM t ORDER BY v", {"temporary"});
  reads(other, "SELECT v FROM t", {"permanent"});
}

TEST_CASE("the parameter types of a Parse are part of what a statement means", "[integration][correctness]") {
  proxied_database env("SELECT 1");
  connection c(env.through());
  auto run = [&](Oid type) {
    const char* values[] = {"1"};
    const Oid types[] = {type};
    result r(PQexecParams(c.get(), "SELECT $1 / 2 AS half", 1, types, values, nullptr, nullptr, 0), &PQclear);
    REQUIRE(PQresultStatus(r.get()) == PGRES_TUPLES_OK);
    return std::make_pair(std::string(PQgetvalue(r.get(), 0, 0)), PQftype(r.get(), 0));
  };
  constexpr Oid int4 = 23, float8 = 701;
  for (int i = 0; i < 2; ++i) CHECK(run(int4) == std::make_pair(std::string("0"), int4));
  for (int i = 0; i < 2; ++i) CHECK(run(float8) == std::make_pair(std::string("0.5"), float8));
  CHECK(queries(*env.proxy, "cache_hit") == 2);
}

// ---- writes the proxy cannot name ---------------------------------------------

TEST_CASE("a session reads its own writes, whatever made them", "[integration][correctness]") {
  // The feed polls only when asked: whatever a session sees at once, it did
  // not owe to a poll that happened to come.
  proxied_database env(
      "CREATE TABLE audit (what text);"
      "CREATE TABLE base (id int PRIMARY KEY, n int);"
      "CREATE FUNCTION note() RETURNS trigger LANGUAGE plpgsql AS"
      " $$ BEGIN INSERT INTO audit VALUES (TG_OP); RETURN NEW; END $$;"
      "CREATE TRIGGER noted AFTER INSERT ON base FOR EACH ROW EXECUTE FUNCTION note();"
      "CREATE FUNCTION write_audit() RETURNS int LANGUAGE sql AS $$ INSERT INTO audit VALUES ('fn') RETURNING 1 $$;"
      "CREATE PROCEDURE audit_proc() LANGUAGE sql AS $$ INSERT INTO audit VALUES ('proc') $$;"
      "CREATE TABLE parent (id int PRIMARY KEY);"
      "CREATE TABLE child (id int, parent_id int REFERENCES parent ON DELETE CASCADE);"
      "INSERT INTO parent VALUES (1); INSERT INTO child VALUES (1, 1), (2, 1);"
      "CREATE VIEW base_view AS SELECT * FROM base;"
      "INSERT INTO base VALUES (1, 0)",
      {"--cdc-interval-ms", "600000"});
  connection c(env.through());
  const std::string audited = "SELECT count(*) FROM audit";
  reads(c, audited, {"1"});

  c.exec("INSERT INTO base VALUES (2, 0)");  // the trigger writes audit
  reads(c, audited, {"2"});
  c.exec("SELECT write_audit()");
  reads(c, audited, {"3"});
  c.exec("CALL audit_proc()");
  reads(c, audited, {"4"});
  c.exec("DO $$ BEGIN INSERT INTO audit VALUES ('do'); END $$");
  reads(c, audited, {"5"});
  c.exec("EXPLAIN ANALYZE SELECT write_audit()");
  reads(c, audited, {"6"});

  reads(c, "SELECT count(*) FROM child", {"2"});
  c.exec("DELETE FROM parent WHERE id = 1");  // cascades to child
  reads(c, "SELECT count(*) FROM child", {"0"});

  reads(c, "SELECT n FROM base WHERE id = 1", {"0"});
  c.exec("UPDATE base_view SET n = 7 WHERE id = 1");
  reads(c, "SELECT n FROM base WHERE id = 1", {"7"});

  // The same through the extended protocol, and inside a transaction.
  result prepared(PQprepare(c.get(), "audit_write", "SELECT write_audit()", 0, nullptr), &PQclear);
  REQUIRE(PQresultStatus(prepared.get()) == PGRES_COMMAND_OK);
  c.exec("BEGIN");
  result ran(PQexecPrepared(c.get(), "audit_write", 0, nullptr, nullptr, nullptr, 0), &PQclear);
  REQUIRE(PQresultStatus(ran.get()) == PGRES_TUPLES_OK);
  c.exec("COMMIT");
  reads(c, audited, {"7"});
  CHECK(queries(*env.proxy, "cache_hit") >= 1);
}

TEST_CASE("inheritance parents and sequences are not cached: their changes are reported elsewhere or not at all",
          "[integration][correctness]") {
  proxied_database env(
      "CREATE TABLE animals (name text); CREATE TABLE cats () INHERITS (animals);"
      "INSERT INTO animals VALUES ('generic'); CREATE SEQUENCE tickets");
  connection c(env.through());
  connection direct(env.db.direct());
  reads(c, "SELECT count(*) FROM animals", {"1"});
  direct.exec("INSERT INTO cats VALUES ('tom')");
  reads(c, "SELECT count(*) FROM animals", {"2"});
  reads(c, "SELECT last_value FROM tickets", {"1"});
  direct.exec("SELECT nextval('tickets'), nextval('tickets')");
  reads(c, "SELECT last_value FROM tickets", {"2"});

  auto parent = query_entry(env.proxy->metrics_port(), proxy::analyze("SELECT count(*) FROM animals").fingerprint);
  REQUIRE(parent.is_object());
  CHECK(parent["uncacheable_reason"]["category"] == "UnsupportedJoin");
  CHECK(parent["uncacheable_reason"]["details"] == "inheritance parent public.animals");
  auto sequence = query_entry(env.proxy->metrics_port(), proxy::analyze("SELECT last_value FROM tickets").fingerprint);
  REQUIRE(sequence.is_object());
  CHECK(sequence["uncacheable_reason"]["category"] == "ComplexExpression");
  CHECK(sequence["uncacheable_reason"]["details"] == "sequence public.tickets");
  CHECK(queries(*env.proxy, "cache_hit") == 0);
}

// ---- the change feed --------------------------------------------------------------

TEST_CASE("each proxy reads a slot of its own, which goes with it", "[integration][correctness]") {
  test_database db;
  connection direct(db.direct());
  direct.exec("CREATE TABLE k (id int)");
  const std::string count = "SELECT count(*) FROM k";
  auto slot_count = [&](const std::string& where) {
    return direct.scalar("SELECT count(*) FROM pg_replication_slots WHERE " + where);
  };

  SECTION("two proxies with the default names both see every change") {
    proxy_process one(db.direct(), ""), two(db.direct(), "");
    one.wait_ready();
    two.wait_ready();
    CHECK(slot_count("database = '" + db.name() + "' AND temporary AND active") == "2");
    connection a(one.conninfo(db.name())), b(two.conninfo(db.name()));
    for (int round = 1; round <= 3; ++round) {
      reads(a, count, {std::to_string(round - 1)});
      reads(b, count, {std::to_string(round - 1)});
      direct.exec("INSERT INTO k VALUES (1)");
      CHECK(eventually([&] { return column(a, count) == std::vector<std::string>{std::to_string(round)}; }));
      CHECK(eventually([&] { return column(b, count) == std::vector<std::string>{std::to_string(round)}; }));
    }
  }

  SECTION("a second proxy on the same slot refuses to start, and nobody can take the slot") {
    const std::string slot = db.name() + "_shared";
    {
      proxy_process first(db.direct(), slot);
      first.wait_ready();
      auto second = run_until_exit({"--origin", db.direct(), "--slot", slot, "--listen", "127.0.0.1:0",
                                    "--metrics-listen", "127.0.0.1:0"});
      CHECK(second.exit_code == 1);
      CHECK_THAT(second.stderr_text, Catch::Contains("replication slot " + slot + " exists already"));
      auto dropped = direct.try_exec("SELECT pg_drop_replication_slot('" + slot + "')");
      CHECK(PQresultStatus(dropped.get()) == PGRES_FATAL_ERROR);
      CHECK_THAT(PQresultErrorMessage(dropped.get()), Catch::Contains("is active for PID"));
      CHECK(slot_count("slot_name = '" + slot + "'") == "1");
    }
    // A stopped proxy keeps no WAL on the origin.
    CHECK(eventually([&] { return slot_count("slot_name = '" + slot + "'") == "0"; }));
  }
}

TEST_CASE("a change feed that lost its slot serves nothing stale, and reads a new one", "[integration][correctness]") {
  test_database db;
  connection direct(db.direct());
  direct.exec("CREATE TABLE k (id int PRIMARY KEY, n int); INSERT INTO k VALUES (1, 0)");
  const std::string slot = db.name() + "_lost";
  // A slow feed leaves time to take its slot's name while it is down.
  proxy_process p(db.direct(), slot, {"--cdc-interval-ms", "2000"});
  p.wait_ready();
  connection c(p.conninfo(db.name()));
  const std::string read = "SELECT n FROM k WHERE id = 1";
  reads(c, read, {"0"});
  const double cached_hits = queries(p, "cache_hit");
  CHECK(metric(scrape(p), "pgcache_change_feed_up") == 1);

  // The feed's backend is terminated: its temporary slot goes, and the
  // change made meanwhile is in no slot the proxy will read.
  direct.exec("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = '" + slot + "'");
  REQUIRE(eventually([&] { return direct.scalar("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '" +
                                                slot + "'") == "0"; }));
  direct.exec("UPDATE k SET n = 1 WHERE id = 1");

  // Stale for at most a poll interval, the feed's bound: then the cache
  // that may hold the old row is dropped.
  CHECK(eventually([&] { return column(c, read) == std::vector<std::string>{"1"}; }));

  SECTION("the feed makes a new slot") {
    p.wait_ready();
    reads(c, read, {"1"});
    CHECK(queries(p, "cache_hit") > cached_hits);
  }
  SECTION("another slot took the name: caching stays off until it is gone") {
    direct.exec("SELECT pg_create_logical_replication_slot('" + slot + "', 'test_decoding')");
    REQUIRE(eventually([&] {
      auto h = http_get(p.metrics_port(), "/health");
      return h.status == 503 && h.body.find("already exists") != std::string::npos;
    }));
    CHECK(metric(scrape(p), "pgcache_change_feed_up") == 0);
    const double before = queries(p, "cache_hit");
    reads(c, read, {"1"});
    CHECK(queries(p, "cache_hit") == before);
    direct.exec("SELECT pg_drop_replication_slot('" + slot + "')");
    p.wait_ready();
    CHECK(metric(scrape(p), "pgcache_change_feed_up") == 1);
    reads(c, read, {"1"});
    CHECK(queries(p, "cache_hit") > before);
  }
}

// ---- the protocol around it ---------------------------------------------------------

TEST_CASE("the session's edges: unknown messages, long or silent logins, what PostgreSQL says unasked",
          "[integration][correctness]") {
  proxied_database env("SELECT 1", {"--login-timeout-ms", "1000"});
  const auto& p = *env.proxy;

  SECTION("an unknown message type ends the session at once, as PostgreSQL does") {
    connection c(env.through());
    std::string frame;
    pgwire::message_writer(frame, 'z').finish();
    REQUIRE(send(PQsocket(c.get()), frame.data(), frame.size(), 0) == static_cast<ssize_t>(frame.size()));
    auto e = read_error(PQsocket(c.get()));
    CHECK(e.severity == "FATAL");
    CHECK(e.sqlstate == "08P01");
    CHECK(e.message == "invalid frontend message type 122");
    CHECK(closed_within(PQsocket(c.get()), 10));
  }
  SECTION("a startup packet over 10,000 bytes is refused") {
    const int fd = connect_to(p.port());
    std::string packet;
    const std::pair<std::string, std::string> params[] = {{"user", "postgres"}, {"options", std::string(10000, 'x')}};
    pgwire::startup_message(packet, params);
    send(fd, packet.data(), packet.size(), MSG_NOSIGNAL);
    auto e = read_error(fd);
    CHECK(e.sqlstate == "08P01");
    CHECK(e.message == "invalid length of startup packet");
    close(fd);
  }
  SECTION("a client that never logs in is let go") {
    const int fd = connect_to(p.port());
    CHECK(closed_within(fd, 10));
    close(fd);
  }
  SECTION("a notification reaches a LISTENing client that sends nothing") {
    connection listener(env.through()), notifier(env.through());
    listener.exec("LISTEN news");
    notifier.exec("NOTIFY news, 'hello'");
    bool heard = false;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!heard && std::chrono::steady_clock::now() < deadline) {
      pollfd readable{PQsocket(listener.get()), POLLIN, 0};
      if (poll(&readable, 1, 100) != 1) continue;
      REQUIRE(PQconsumeInput(listener.get()) == 1);
      if (PGnotify* n = PQnotifies(listener.get())) {
        heard = std::string(n->relname) == "news" && std::string(n->extra) == "hello";
        PQfreemem(n);
      }
    }
    CHECK(heard);
  }
  SECTION("PostgreSQL's own FATAL error reaches the client, in PostgreSQL's words") {
    connection c(env.through());
    const std::string backend = c.scalar("SELECT pg_backend_pid()");
    connection(env.db.direct()).exec("SELECT pg_terminate_backend(" + backend + ")");
    // A LISTENing client hears it at once, off the socket as PostgreSQL sends
    // it (libpq drops what comes while it waits for nothing); any other
    // with the answer to its next message.
    connection listener(env.through());
    listener.exec("LISTEN news");
    const std::string listening = listener.scalar("SELECT pg_backend_pid()");
    connection(env.db.direct()).exec("SELECT pg_terminate_backend(" + listening + ")");
    auto e = read_error(PQsocket(listener.get()));
    CHECK(e.severity == "FATAL");
    CHECK(e.sqlstate == "57P01");
    CHECK(closed_within(PQsocket(listener.get()), 10));

    // libpq reports the FATAL with the close that follows it, as it does
    // straight from PostgreSQL.
    auto next = c.try_exec("SELECT 1");
    CHECK(PQresultStatus(next.get()) == PGRES_FATAL_ERROR);
    CHECK_THAT(PQerrorMessage(c.get()), Catch::Contains("FATAL:  terminating connection due to administrator command"));
  }
}

TEST_CASE("SIGTERM during an outage: 57P01 for every client, and exit 0 within the deadline",
          "[integration][correctness]") {
  proxied_database env("SELECT 1", {"--shutdown-timeout-ms", "1000"});
  auto& p = *env.proxy;
  connection direct(env.db.direct());
  connection idle(env.through()), busy(env.through());
  // PostgreSQL hangs under the busy session's statement and under the
  // change feed: neither will ever answer.
  std::vector<std::string> stopped{busy.scalar("SELECT pg_backend_pid()"),
                                   direct.scalar("SELECT active_pid FROM pg_replication_slots WHERE database = '" +
                                                 env.db.name() + "'")};
  for (const auto& pid : stopped) REQUIRE(kill(std::stoi(pid), SIGSTOP) == 0);
  struct resume {
    std::vector<std::string>& pids;
    ~resume() {
      for (const auto& pid : pids) kill(std::stoi(pid), SIGCONT);
    }
  } on_exit{stopped};
  REQUIRE(PQsendQuery(busy.get(), "SELECT 1") == 1);

  const auto start = std::chrono::steady_clock::now();
  int status = -1;
  std::thread stopper([&] { status = p.terminate(); });
  // The idle session ends at once; the busy one at the deadline.
  auto first = read_error(PQsocket(idle.get()));
  const double idle_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  auto second = read_error(PQsocket(busy.get()));
  stopper.join();
  const double exit_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(first.sqlstate == "57P01");
  CHECK(second.sqlstate == "57P01");
  CHECK(second.message == "terminating connection due to administrator command");
  CHECK(idle_seconds < 1.0);
  CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  CHECK(exit_seconds < 1.0 + 2.0);  // the deadline, and time to close what is left
}

TEST_CASE("out of descriptors, the proxy refuses for a while and then accepts again", "[integration][correctness]") {
  test_database db;
  proxy_process p(db.direct(), db.name(), {}, 48);
  p.wait_ready();
  // Scrapes while the process has no descriptor to spare go over a
  // connection opened before.
  const int scraper = connect_to(p.metrics_port());
  auto accept_errors = [&] {
    const std::string request = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    REQUIRE(send(scraper, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size()));
    std::string reply;
    std::size_t body_at = std::string::npos, length = 0;
    while (body_at == std::string::npos || reply.size() < body_at + length) {
      char buf[16384];
      const ssize_t n = recv(scraper, buf, sizeof buf, 0);
      REQUIRE(n > 0);
      reply.append(buf, static_cast<std::size_t>(n));
      if (body_at == std::string::npos && (body_at = reply.find("\r\n\r\n")) != std::string::npos) {
        body_at += 4;
        const auto header = reply.find("Content-Length: ");
        REQUIRE(header != std::string::npos);
        length = std::stoul(reply.substr(header + 16));
      }
    }
    return metric(reply.substr(body_at, length), "pgcache_accept_errors_total");
  };
  REQUIRE(accept_errors() == 0);
  // Clients that never log in each hold a descriptor; the backlog takes
  // those the proxy cannot accept.
  std::vector<int> clients;
  for (int i = 0; i < 80; ++i) clients.push_back(connect_to(p.port()));
  CHECK(eventually([&] { return accept_errors() > 0; }));
  for (int fd : clients) close(fd);
  connection c(p.conninfo(db.name()));
  CHECK(c.scalar("SELECT 'accepting'") == "accepting");
  close(scraper);
}
