// The pooler under faults (issue 23): PostgreSQL restarting, hanging or
// ending connections, descriptors running out, SIGTERM under load, RELOAD
// with clients connected, and hostile or broken clients. Every fault is
// real: a cluster of the test's own is stopped, hung with SIGSTOP and
// restarted; the pooler runs with a low RLIMIT_NOFILE.
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "support.hpp"

using namespace pooler_test;

namespace {

// The text of a FATAL the pooler sent, without libpq's "connection to
// server at ..." prefix (which names the pooler's own address).
std::string fatal_text(const std::string& libpq_error) {
  auto at = libpq_error.find("FATAL:");
  return at == std::string::npos ? std::string() : libpq_error.substr(at);
}

// Collects what libpq hands its notice processor: a FATAL error that
// arrives while a connection is idle goes there.
void collect(void* arg, const char* message) { static_cast<std::string*>(arg)->append(message); }

// Waits until the server closes `c`, consuming what arrives; false if it
// is still open after `limit`.
bool closed_by_server(const client_conn& c, std::chrono::milliseconds limit) {
  return eventually(
      [&] {
        pollfd p{PQsocket(c.get()), POLLIN, 0};
        // PQisBusy parses what PQconsumeInput read, before an EOF hides it.
        if (::poll(&p, 1, 0) > 0 && PQconsumeInput(c.get())) PQisBusy(c.get());
        return PQstatus(c.get()) == CONNECTION_BAD;
      },
      limit);
}

// A protocol message read off a raw socket: its type and body.
struct raw_message {
  char type = 0;
  std::string body;
};

raw_message read_message(int fd) {
  std::string header;
  auto read_n = [&](std::size_t n) {
    std::string out;
    while (out.size() < n) {
      char buf[4096];
      ssize_t got = ::recv(fd, buf, std::min(sizeof buf, n - out.size()), 0);
      if (got <= 0) return std::string();
      out.append(buf, static_cast<std::size_t>(got));
    }
    return out;
  };
  header = read_n(5);
  if (header.size() < 5) return {};
  std::uint32_t length = 0;
  for (int i = 1; i < 5; ++i) length = length << 8 | static_cast<unsigned char>(header[static_cast<std::size_t>(i)]);
  return {header[0], read_n(length - 4)};
}

std::int32_t int32_at(const std::string& s, std::size_t at) {
  std::uint32_t v = 0;
  for (std::size_t i = at; i < at + 4; ++i) v = v << 8 | static_cast<unsigned char>(s[i]);
  return static_cast<std::int32_t>(v);
}

// Logs in as `user` on a raw socket up to the server's first SCRAM message:
// returns the code of the first authentication request (-1 for an
// ErrorResponse) and the salt and iteration count the server sent.
std::pair<int, std::string> scram_start(int port, const std::string& db, const std::string& user) {
  int fd = connect_tcp(port);
  REQUIRE(fd >= 0);
  std::string params = "user" + std::string(1, '\0') + user + std::string(1, '\0') + "database" + std::string(1, '\0') +
                       db + std::string(2, '\0');
  std::string startup = be32(static_cast<std::uint32_t>(params.size() + 8)) + be32(196608) + params;
  ::send(fd, startup.data(), startup.size(), MSG_NOSIGNAL);
  auto first = read_message(fd);
  std::pair<int, std::string> out{-1, ""};
  if (first.type == 'R' && first.body.size() >= 4) {
    out.first = int32_at(first.body, 0);
    if (out.first == 10) {
      std::string data = "n,,n=,r=pooler-test-nonce";
      std::string body = "SCRAM-SHA-256" + std::string(1, '\0') + be32(static_cast<std::uint32_t>(data.size())) + data;
      std::string message = "p" + be32(static_cast<std::uint32_t>(body.size() + 4)) + body;
      ::send(fd, message.data(), message.size(), MSG_NOSIGNAL);
      auto server_first = read_message(fd);
      if (server_first.type == 'R' && server_first.body.size() > 4) {
        auto text = server_first.body.substr(4);
        auto salt = text.find(",s=");
        if (salt != std::string::npos) out.second = text.substr(salt + 1);
      }
    }
  }
  ::close(fd);
  return out;
}

}  // namespace

TEST_CASE("out of descriptors, the pooler counts failed accepts, backs off, and accepts again", "[skeleton]") {
  auto pg = shared_pg();
  auto sfx = random_suffix();
  std::string user = "pooler_fd_" + sfx, db = "fd" + sfx;
  pg.scram_role(user, "fd-pw");
  pooler_process pooler(database_section(db, pg) + user_section(db, user, "fd-pw"), 40);
  // Scrapes while the pooler has no descriptor to spare go over a
  // connection opened before.
  http_conn scraper(pooler.metrics_port());
  auto accept_errors = [&] { return metric(scraper.get("/metrics").body, "pooler_accept_errors_total"); };
  INFO(pooler.log());
  REQUIRE(accept_errors() == 0);  // exported from the start
  // Clients that never log in each hold a descriptor; the backlog takes
  // those the pooler cannot accept.
  std::vector<int> clients;
  for (int i = 0; i < 80; ++i) clients.push_back(connect_tcp(pooler.port()));
  CHECK(eventually([&] { return accept_errors() > 0; }));
  for (int fd : clients)
    if (fd >= 0) ::close(fd);
  client_conn c(pooler.client(db, user, "fd-pw"));
  INFO(c.error() << pooler.log());
  REQUIRE(c.ok());
  CHECK(c.value("SELECT 'accepting'") == "accepting");
  // Logged once for the burst, not once per failed accept.
  auto log = pooler.log();
  CHECK(log.find("accept failed") != std::string::npos);
  CHECK(log.find("accept failed") == log.rfind("accept failed"));
}

TEST_CASE("a server connection that died in the pool is replaced before a client sees it", "[pool]") {
  auto pg = shared_pg();
  auto sfx = random_suffix();
  std::string user = "pooler_dead_" + sfx, db = "dead" + sfx;
  pg.scram_role(user, "dead-pw");
  pooler_process pooler(database_section(db, pg) + user_section(db, user, "dead-pw", "pool_size = 2\n"));
  std::string closed = "db_pool_connection_errors_total{service=\"" + db + "/" + user + "\",error_type=\"closed\"}";
  client_conn c(pooler.client(db, user, "dead-pw"));
  REQUIRE(c.ok());
  auto backends = [&] { return pg.value("SELECT count(*) FROM pg_stat_activity WHERE usename = '" + user + "'"); };

  // A terminated backend: the read in flight on the idle connection sees its
  // FATAL and EOF, and the pool drops it before any client asks.
  REQUIRE(c.value("SELECT 1") == "1");
  REQUIRE(backends() == "1");
  std::string idle = "db_pool_connections{service=\"" + db + "/" + user + "\",state=\"idle\"}";
  REQUIRE(metric(pooler.scrape(), idle) == 1);
  pg.exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '" + user + "'");
  CHECK(eventually([&] { return metric(pooler.scrape(), closed) == 1; }));
  CHECK(metric(pooler.scrape(), idle) == 0);
  CHECK(c.value("SELECT 2") == "2");
  CHECK(metric(pooler.scrape(), closed) == 1);

  // idle_session_timeout ends the next connections while they sit idle.
  pg.exec("ALTER ROLE " + user + " SET idle_session_timeout = '100ms'");
  pg.exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '" + user + "'");
  REQUIRE(eventually([&] { return backends() == "0"; }));
  CHECK(c.value("SELECT 3") == "3");
  REQUIRE(eventually([&] { return backends() == "0"; }));
  CHECK(c.value("SELECT 4") == "4");
  CHECK(metric(pooler.scrape(), closed) == 3);
}

TEST_CASE("PostgreSQL restarts: once it is back, clients connected across the restart see no error", "[pool][cluster]") {
  pg_cluster cluster;
  auto pg = cluster.admin();
  auto sfx = random_suffix();
  std::string user = "pooler_rs_" + sfx, db = "rs" + sfx;
  pg.scram_role(user, "rs-pw");
  pooler_process pooler(database_section(db, pg, "pool_size = 3\n") + user_section(db, user, "rs-pw"));
  std::vector<std::unique_ptr<client_conn>> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(std::make_unique<client_conn>(pooler.client(db, user, "rs-pw")));
    REQUIRE(clients.back()->ok());
  }
  // Three transactions at once leave three connections in the pool.
  for (auto& c : clients) c->value("BEGIN");
  for (auto& c : clients) c->value("COMMIT");
  std::string service = "service=\"" + db + "/" + user + "\"";
  REQUIRE(metric(pooler.scrape(), "db_pool_connections{" + service + ",state=\"idle\"}") == 3);

  cluster.stop();
  cluster.start();
  for (auto& c : clients) CHECK(c->value("SELECT 42") == "42");
  client_conn fresh(pooler.client(db, user, "rs-pw"));
  REQUIRE(fresh.ok());
  CHECK(fresh.value("SELECT 43") == "43");
  // Each dead connection left the pool when it died, and was counted.
  CHECK(metric(pooler.scrape(), "db_pool_connection_errors_total{" + service + ",error_type=\"closed\"}") == 3);
}

TEST_CASE("probes: with PostgreSQL hung, live and /metrics answer within 100 ms and ready says 503 within "
          "health_check_timeout, stopped it is not ready, back it is", "[probes][cluster]") {
  pg_cluster cluster;
  auto pg = cluster.admin();
  auto sfx = random_suffix();
  std::string user = "pooler_pr_" + sfx, db = "pr" + sfx;
  pg.scram_role(user, "pr-pw");
  // 0.5 s is the default; 100 ms more is the documented bound for an answer.
  pooler_process pooler(database_section(db, pg) + user_section(db, user, "pr-pw"));
  const auto ready_bound = 600ms;
  client_conn c(pooler.client(db, user, "pr-pw"));
  REQUIRE(c.ok());
  CHECK(http_get(pooler.metrics_port(), "/health/ready").status == 200);

  cluster.pause();
  // A query waits on the hung server meanwhile.
  REQUIRE(PQsendQuery(c.get(), "SELECT 1") == 1);
  auto ready = http_get(pooler.metrics_port(), "/health/ready");
  CHECK(ready.status == 503);
  CHECK(ready.elapsed < ready_bound);
  // A slow probe in flight holds up neither liveness nor a scrape.
  auto slow = std::async(std::launch::async, [&] { return http_get(pooler.metrics_port(), "/health"); });
  std::this_thread::sleep_for(100ms);  // lets the probe above reach the pooler first; not an assertion
  auto live = http_get(pooler.metrics_port(), "/health/live");
  CHECK(live.status == 200);
  CHECK(live.elapsed < 100ms);
  auto scrape = http_get(pooler.metrics_port(), "/metrics");
  CHECK(scrape.status == 200);
  CHECK(scrape.elapsed < 100ms);
  auto health = slow.get();
  CHECK(health.status == 503);
  CHECK(health.elapsed < ready_bound);
  INFO(health.body);
  CHECK(health.body.find(db + ": no answer within 500 ms") != std::string::npos);
  CHECK(health.body.find(pg.port()) == std::string::npos);  // databases by name, not address

  cluster.resume();
  PGresult* r = PQgetResult(c.get());
  CHECK(PQresultStatus(r) == PGRES_TUPLES_OK);
  PQclear(r);
  while ((r = PQgetResult(c.get()))) PQclear(r);
  CHECK(eventually([&] { return http_get(pooler.metrics_port(), "/health/ready").status == 200; }));

  cluster.stop();
  CHECK(http_get(pooler.metrics_port(), "/health/ready").status == 503);
  cluster.start();
  CHECK(eventually([&] { return http_get(pooler.metrics_port(), "/health/ready").status == 200; }));
}

TEST_CASE("SIGTERM: idle clients get 57P01 at once, a running transaction finishes, a hung one is cut off at "
          "shutdown_timeout, and the pooler exits 0", "[sigterm][cluster]") {
  pg_cluster cluster;
  auto pg = cluster.admin();
  auto sfx = random_suffix();
  std::string user = "pooler_st_" + sfx, db = "st" + sfx;
  pg.scram_role(user, "st-pw");
  const auto shutdown_timeout = 2s;
  pooler_process pooler("shutdown_timeout = 2\n" + database_section(db, pg, "pool_size = 3\n") +
                        user_section(db, user, "st-pw"));
  client_conn idle(pooler.client(db, user, "st-pw")), busy(pooler.client(db, user, "st-pw")),
      hung(pooler.client(db, user, "st-pw"));
  REQUIRE((idle.ok() && busy.ok() && hung.ok()));
  std::string idle_notices, busy_notices;
  PQsetNoticeProcessor(idle.get(), collect, &idle_notices);
  PQsetNoticeProcessor(busy.get(), collect, &busy_notices);
  hung.value("BEGIN");
  auto pid = std::stoi(hung.value("SELECT pg_backend_pid()"));
  cluster.pause_backend(pid);
  REQUIRE(PQsendQuery(hung.get(), "SELECT 1") == 1);
  REQUIRE(PQsendQuery(busy.get(), "SELECT pg_sleep(1)") == 1);
  // Running when the signal comes: PostgreSQL shows it.
  REQUIRE(eventually([&] {
    return pg.value("SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(1)' AND state = 'active'") == "1";
  }));

  const auto start = std::chrono::steady_clock::now();
  pooler.terminate();
  // The listener is closed at once.
  CHECK(eventually([&] {
    int fd = connect_tcp(pooler.port());
    if (fd >= 0) ::close(fd);
    return fd < 0;
  }, 1s));
  // Between transactions: told right away, as PostgreSQL's fast shutdown does.
  CHECK(closed_by_server(idle, 1s));
  CHECK(idle_notices.find("terminating connection due to administrator command") != std::string::npos);
  // In a transaction that ends in time: its answer, then the same goodbye.
  PGresult* r = PQgetResult(busy.get());
  CHECK(PQresultStatus(r) == PGRES_TUPLES_OK);
  PQclear(r);
  while ((r = PQgetResult(busy.get()))) PQclear(r);
  CHECK(closed_by_server(busy, 1s));
  CHECK(busy_notices.find("terminating connection due to administrator command") != std::string::npos);
  // The whole of PostgreSQL hangs from here on: the pooler needs nothing of it to stop.
  cluster.pause();
  // Still waiting at the deadline: cut off with 57P01.
  r = PQgetResult(hung.get());
  CHECK(PQresultStatus(r) == PGRES_FATAL_ERROR);
  CHECK(std::string(PQresultErrorMessage(r)).find("terminating connection due to administrator command") !=
        std::string::npos);
  PQclear(r);
  while ((r = PQgetResult(hung.get()))) PQclear(r);
  auto status = pooler.wait_exit(3s);
  const auto took = std::chrono::steady_clock::now() - start;
  REQUIRE(status);
  CHECK(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) == 0);
  CHECK(took >= shutdown_timeout);
  CHECK(took < shutdown_timeout + 1s);
  cluster.resume();  // for the roles' cleanup
}

TEST_CASE("errors sent to clients name no address and no source file, the log has the detail", "[errors]") {
  auto pg = shared_pg();
  auto sfx = random_suffix();
  std::string user = "pooler_err_" + sfx, db = "err" + sfx, aq = "erraq" + sfx;
  pg.scram_role(user, "err-pw");
  const std::string dead = std::to_string(free_port());  // nothing listens there
  std::string config = "[databases." + db + "]\nhost = \"127.0.0.1\"\nport = " + dead + "\n" +
                       user_section(db, user, "err-pw") + "[databases." + aq + "]\nhost = \"127.0.0.1\"\nport = " +
                       dead + "\n" + auth_query_section(aq, pg);
  pooler_process pooler(config);
  auto clean = [&](const std::string& text) {
    INFO(text);
    CHECK(text.find("system:") == std::string::npos);
    CHECK(text.find(".hpp") == std::string::npos);
    CHECK(text.find("/usr/") == std::string::npos);
    CHECK(text.find("127.0.0.1") == std::string::npos);
    CHECK(text.find(dead) == std::string::npos);
    CHECK(text.find("refused") == std::string::npos);
  };
  // Logged in, no server behind it.
  client_conn c(pooler.client(db, user, "err-pw"));
  CHECK_FALSE(c.ok());
  auto error = fatal_text(c.error());
  CHECK(error.find("could not connect to the server") != std::string::npos);
  clean(error);
  // Not logged in: the auth_query lookup fails.
  client_conn q(pooler.client(aq, "somebody", "x"));
  CHECK_FALSE(q.ok());
  error = fatal_text(q.error());
  CHECK(error.find("auth_query failed") != std::string::npos);
  clean(error);
  // The detail is the operator's.
  auto log = pooler.log();
  INFO(log);
  CHECK(log.find("127.0.0.1:" + dead + ": Connection refused") != std::string::npos);
  CHECK(log.find("auth_query of " + aq + " for somebody failed: Connection refused") != std::string::npos);
  auto scrape = pooler.scrape();
  CHECK(metric(scrape, "db_pool_connection_errors_total{service=\"" + db + "/" + user + "\",error_type=\"other\"}") == 1);
  CHECK(metric(scrape, "pg_doorman_auth_query_executor_errors_total{database=\"" + aq + "\"}") == 1);
}

TEST_CASE("RELOAD moves connected clients to the new pool: visible there, and a user never holds more than "
          "pool_size connections", "[reload]") {
  auto pg = shared_pg();
  auto sfx = random_suffix();
  std::string alice = "pooler_ra_" + sfx, db = "ra" + sfx;
  pg.scram_role(alice, "alice-pw");
  pooler_process pooler("query_wait_timeout = 20\n" + database_section(db, pg) +
                        auth_query_section(db, pg, "pool_size = 2\n"));
  client_conn a1(pooler.client(db, alice, "alice-pw")), a2(pooler.client(db, alice, "alice-pw"));
  REQUIRE((a1.ok() && a2.ok()));
  auto [out, rc] = pooler.admin("RELOAD");
  INFO(out);
  REQUIRE(rc == 0);
  client_conn a3(pooler.client(db, alice, "alice-pw")), a4(pooler.client(db, alice, "alice-pw"));
  REQUIRE((a3.ok() && a4.ok()));
  a1.value("BEGIN");
  a2.value("BEGIN");
  REQUIRE(PQsendQuery(a3.get(), "BEGIN") == 1);
  REQUIRE(PQsendQuery(a4.get(), "BEGIN") == 1);
  auto backends = [&] { return std::stoi(pg.value("SELECT count(*) FROM pg_stat_activity WHERE usename = '" + alice + "'")); };
  auto pool_row = [&] { return fields(row_with(pooler.admin("SHOW POOLS").first, db + "|" + alice + "|")); };
  // Either the two late clients queue, or the user holds more than its pool.
  REQUIRE(eventually([&] {
    auto row = pool_row();
    return backends() > 2 || (row.size() > 3 && row[3] == "2");
  }));
  CHECK(backends() == 2);
  auto row = pool_row();
  REQUIRE(row.size() == 18);
  CHECK(row[2] == "2");  // cl_active: a1, a2
  CHECK(row[3] == "2");  // cl_waiting: a3, a4
  CHECK(row[6] == "2");  // sv_active
  auto servers = pooler.admin("SHOW SERVERS").first;
  CHECK(fields(row_with(servers, "S|" + alice + "|" + db + "|active|")).size() == 18);
  std::string service = "service=\"" + db + "/" + alice + "\"";
  auto scrape = pooler.scrape();
  CHECK(metric(scrape, "db_pool_connections{" + service + ",state=\"active\"}") == 2);
  CHECK(metric(scrape, "db_pool_connections{" + service + ",state=\"waiting\"}") == 2);
  a1.value("COMMIT");
  a2.value("COMMIT");
  for (auto* late : {&a3, &a4}) {
    PGresult* r;
    while ((r = PQgetResult(late->get()))) {
      CHECK(PQresultStatus(r) == PGRES_COMMAND_OK);
      PQclear(r);
    }
    late->value("COMMIT");
  }
  CHECK(backends() <= 2);

  // A RELOAD that removes the user ends its sessions: told at once.
  std::string notices;
  PQsetNoticeProcessor(a1.get(), collect, &notices);
  pooler.write_config("query_wait_timeout = 20\n" + database_section(db, pg));
  REQUIRE(pooler.admin("RELOAD").second == 0);
  CHECK(closed_by_server(a1, 5s));
  CHECK(notices.find("terminating connection due to administrator command") != std::string::npos);
}

TEST_CASE("A query queued past query_wait_timeout fails with that error and is counted, and the clients "
          "queued behind it get the connection in turn", "[queue]") {
  auto pg = shared_pg();
  auto sfx = random_suffix();
  std::string user = "pooler_qw_" + sfx, db = "qw" + sfx;
  pg.scram_role(user, "qw-pw");
  pooler_process pooler("query_wait_timeout = 1\n" + database_section(db, pg, "pool_size = 1\n") +
                        user_section(db, user, "qw-pw"));
  client_conn holder(pooler.client(db, user, "qw-pw")), late(pooler.client(db, user, "qw-pw"));
  REQUIRE((holder.ok() && late.ok()));
  holder.value("BEGIN");  // the pool's one connection, held
  REQUIRE(PQsendQuery(late.get(), "SELECT 1") == 1);
  // Queued, then told when its second is up; its session ends there.
  REQUIRE(closed_by_server(late, 20s));
  std::string error = PQerrorMessage(late.get());
  INFO(error);
  CHECK(error.find("query_wait_timeout") != std::string::npos);
  std::string service = "service=\"" + db + "/" + user + "\"";
  auto scrape = pooler.scrape();
  CHECK(metric(scrape, "db_pool_connection_errors_total{" + service + ",error_type=\"timeout\"}") == 1);
  CHECK(metric(scrape, "db_pool_connections{" + service + ",state=\"waiting\"}") == 0);

  // Three queue behind the open transaction; each gets the connection when
  // the one before it is done, inside their deadlines, in order.
  std::vector<std::unique_ptr<client_conn>> queued;
  for (int i = 0; i < 3; ++i) {
    queued.push_back(std::make_unique<client_conn>(pooler.client(db, user, "qw-pw")));
    REQUIRE(queued.back()->ok());
    REQUIRE(PQsendQuery(queued.back()->get(), ("SELECT " + std::to_string(i)).c_str()) == 1);
  }
  const auto waiting = "db_pool_connections{" + service + ",state=\"waiting\"}";
  REQUIRE(eventually([&] { return metric(pooler.scrape(), waiting) == 3; }));
  holder.value("COMMIT");
  for (int i = 0; i < 3; ++i) {
    PGresult* r = PQgetResult(queued[static_cast<std::size_t>(i)]->get());
    REQUIRE(r);
    CHECK(PQresultStatus(r) == PGRES_TUPLES_OK);
    CHECK(std::string(PQgetvalue(r, 0, 0)) == std::to_string(i));
    PQclear(r);
    while ((r = PQgetResult(queued[static_cast<std::size_t>(i)]->get()))) PQclear(r);
  }
  scrape = pooler.scrape();
  CHECK(metric(scrape, "db_pool_connection_errors_total{" + service + ",error_type=\"timeout\"}") == 1);
  CHECK(metric(scrape, waiting) == 0);
  CHECK(metric(scrape, "db_pool_connections{" + service + ",state=\"idle\"}") == 1);
}

TEST_CASE("SHOW STATS totals never go down, though pools come and go", "[stats]") {
  auto pg = shared_pg();
  auto sfx = random_suffix();
  std::string alice = "pooler_sa_" + sfx, db = "sa" + sfx;
  pg.scram_role(alice, "alice-pw");
  pooler_process pooler("gc_interval = 0.1\n" + database_section(db, pg) + auth_query_section(db, pg, "idle_timeout = 0.2\n"));
  auto xacts = [&] { return std::stod(fields(row_with(pooler.admin("SHOW STATS").first, db + "|")).at(1)); };
  {
    client_conn a(pooler.client(db, alice, "alice-pw"));
    REQUIRE(a.ok());
    for (int i = 0; i < 5; ++i) a.value("SELECT 1");
  }
  const auto before = xacts();
  CHECK(before >= 5);
  // The idle dynamic pool is collected...
  REQUIRE(eventually([&] { return row_with(pooler.admin("SHOW POOLS").first, db + "|" + alice + "|").empty(); }));
  CHECK(xacts() >= before);
  // ...and RELOAD destroys the next one.
  {
    client_conn a(pooler.client(db, alice, "alice-pw"));
    REQUIRE(a.ok());
    for (int i = 0; i < 3; ++i) a.value("SELECT 1");
  }
  REQUIRE(pooler.admin("RELOAD").second == 0);
  CHECK(xacts() >= before + 3);
}

TEST_CASE("pg_doorman_auth_query_executor_active_connections counts executor connections running the query, "
          "as SHOW AUTH_QUERY_EXECUTORS does", "[auth]") {
  auto pg = shared_pg();
  auto sfx = random_suffix();
  std::string u1 = "pooler_x1_" + sfx, u2 = "pooler_x2_" + sfx, db = "ex" + sfx;
  pg.scram_role(u1, "x-pw");
  pg.scram_role(u2, "x-pw");
  // The query waits for an advisory lock the test holds.
  const std::string lock = std::to_string(std::random_device{}() % 1000000000);
  pooler_process pooler(database_section(db, pg) +
                        auth_query_section(db, pg, "query = \"SELECT rolname, rolpassword FROM pg_authid, "
                                                   "pg_advisory_xact_lock_shared(" + lock + ") WHERE rolname = $1\"\n"));
  client_conn holder(conninfo(pg.host(), pg.port(), pg.db(), "postgres", pg.password()));
  REQUIRE(holder.ok());
  holder.value("SELECT pg_advisory_lock(" + lock + ")");
  std::string label = "{database=\"" + db + "\"}";
  auto active = [&] { return metric(pooler.scrape(), "pg_doorman_auth_query_executor_active_connections" + label); };
  auto shown = [&] { return fields(row_with(pooler.admin("SHOW AUTH_QUERY_EXECUTORS").first, db + "|")).at(4); };
  REQUIRE(active() == 0);
  std::atomic<int> logged_in{0};
  std::vector<std::thread> logins;
  for (const auto& u : {u1, u2})
    logins.emplace_back([&, u] {
      client_conn c(pooler.client(db, u, "x-pw"));
      if (c.ok()) ++logged_in;
    });
  CHECK(eventually([&] { return active() == 2 && shown() == "2"; }));
  holder.value("SELECT pg_advisory_unlock(" + lock + ")");
  for (auto& t : logins) t.join();
  CHECK(logged_in == 2);
  CHECK(active() == 0);
  CHECK(shown() == "0");
}

TEST_CASE("max_message_size: 20 MB statements and rows pass where it allows them, past it a clear FATAL that is "
          "the client's error", "[limits]") {
  auto pg = shared_pg();
  auto sfx = random_suffix();
  std::string user = "pooler_big_" + sfx, db = "big" + sfx;
  pg.scram_role(user, "big-pw");
  const std::string statement = "SELECT length('" + std::string(20000000, 'x') + "')";
  {
    pooler_process roomy("max_message_size = 33554432\n" + database_section(db, pg) + user_section(db, user, "big-pw"));
    client_conn c(roomy.client(db, user, "big-pw"));
    REQUIRE(c.ok());
    CHECK(c.value(statement) == "20000000");
    CHECK(c.value("SELECT repeat('y', 20000000)").size() == 20000000);
  }
  pooler_process pooler(database_section(db, pg) + user_section(db, user, "big-pw"));
  client_conn c(pooler.client(db, user, "big-pw"));
  REQUIRE(c.ok());
  CHECK(c.fails(statement));
  INFO(c.error());
  // The length field counts itself and the statement's terminating NUL.
  CHECK(c.error().find("message of " + std::to_string(statement.size() + 5) +
                       " bytes exceeds the limit of 16777216 bytes (general.max_message_size)") != std::string::npos);
  auto scrape = pooler.scrape();
  CHECK(metric(scrape, "pooler_client_protocol_errors_total") == 1);
  std::string service = "service=\"" + db + "/" + user + "\"";
  for (const char* type : {"timeout", "closed", "other"})
    CHECK(metric(scrape, "db_pool_connection_errors_total{" + service + ",error_type=\"" + type + "\"}") == 0);
}

TEST_CASE("an invalid message type is the client's error: PostgreSQL's FATAL, counted for clients, not for the pool",
          "[protocol]") {
  auto pg = shared_pg();
  auto sfx = random_suffix();
  std::string user = "pooler_mt_" + sfx, db = "mt" + sfx;
  pg.scram_role(user, "mt-pw");
  pooler_process pooler(database_section(db, pg) + user_section(db, user, "mt-pw"));
  {
    client_conn c(pooler.client(db, user, "mt-pw"));
    REQUIRE(c.ok());
    REQUIRE(c.value("SELECT 1") == "1");
    auto reply = c.send_raw("Z" + be32(4));
    CHECK(reply.find("08P01") != std::string::npos);
    CHECK(reply.find("invalid frontend message type 90") != std::string::npos);
  }
  auto scrape = pooler.scrape();
  CHECK(metric(scrape, "pooler_client_protocol_errors_total") == 1);
  std::string service = "service=\"" + db + "/" + user + "\"";
  for (const char* type : {"timeout", "closed", "other"})
    CHECK(metric(scrape, "db_pool_connection_errors_total{" + service + ",error_type=\"" + type + "\"}") == 0);
  // The server connection went back to the pool untouched.
  client_conn next(pooler.client(db, user, "mt-pw"));
  REQUIRE(next.ok());
  CHECK(next.value("SELECT 2") == "2");
  CHECK(metric(pooler.scrape(), "db_pool_connections{" + service + ",state=\"idle\"}") == 1);
}

TEST_CASE("an unknown user is asked for a password like a real one, and refused like a wrong password", "[auth]") {
  auto pg = shared_pg();
  auto sfx = random_suffix();
  std::string user = "pooler_uu_" + sfx, ghost = "pooler_ghost_" + sfx, db = "uu" + sfx, aq = "uuaq" + sfx;
  pg.scram_role(user, "uu-pw");
  pooler_process pooler(database_section(db, pg) + user_section(db, user, "uu-pw") + database_section(aq, pg) +
                        auth_query_section(aq, pg));
  for (const auto& database : {db, aq}) {
    INFO(database);
    auto real = scram_start(pooler.port(), database, user);
    auto unknown = scram_start(pooler.port(), database, ghost);
    CHECK(real.first == 10);  // AuthenticationSASL
    CHECK(unknown.first == 10);
    CHECK(unknown.second.starts_with("s="));
    CHECK(unknown.second.ends_with(",i=4096"));
    // The same salt on every attempt, as a real user's.
    CHECK(scram_start(pooler.port(), database, ghost).second == unknown.second);
    CHECK(scram_start(pooler.port(), database, user).second == real.second);
    client_conn wrong(pooler.client(database, user, "nope")), missing(pooler.client(database, ghost, "nope"));
    CHECK_FALSE(wrong.ok());
    CHECK_FALSE(missing.ok());
    CHECK(fatal_text(wrong.error()) == "FATAL:  password authentication failed for user \"" + user + "\"\n");
    CHECK(fatal_text(missing.error()) == "FATAL:  password authentication failed for user \"" + ghost + "\"\n");
  }
}
