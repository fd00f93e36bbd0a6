#include "database.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <memory>

#include <service/idle_socket.hpp>

#include "metrics.hpp"

namespace redis_gateway {
namespace {

struct result_deleter {
  void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using result_ptr = std::unique_ptr<PGresult, result_deleter>;
struct conn_deleter {
  void operator()(PGconn* c) const noexcept { PQfinish(c); }
};
using conn_ptr = std::unique_ptr<PGconn, conn_deleter>;

// The tables, created in the schema that search_path names. Tenants cascade:
// deleting an organization deletes its users, keys and instances.
constexpr const char* schema_sql = R"sql(
CREATE TABLE IF NOT EXISTS organizations (
  id         bigserial PRIMARY KEY,
  name       text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS users (
  id              bigserial PRIMARY KEY,
  organization_id bigint NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  email           text NOT NULL UNIQUE,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS api_keys (
  key             text PRIMARY KEY,
  organization_id bigint NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  rate_limit_rps  integer CHECK (rate_limit_rps > 0),
  created_at      timestamptz NOT NULL DEFAULT now()
);
-- Names a key where the key itself must not appear: metric labels, logs.
ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS id bigserial UNIQUE;
CREATE TABLE IF NOT EXISTS redis_instances (
  name            text PRIMARY KEY,
  organization_id bigint NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  host            text NOT NULL,
  port            integer NOT NULL CHECK (port BETWEEN 1 AND 65535),
  password        text NOT NULL DEFAULT '',
  created_at      timestamptz NOT NULL DEFAULT now()
);
-- An instance's identity: a name comes back when an instance is deleted and
-- created again, an id never does (see redis_instance.hpp).
ALTER TABLE redis_instances ADD COLUMN IF NOT EXISTS id bigserial UNIQUE;
)sql";

// A migration may wait for another gateway's under the advisory lock.
constexpr std::chrono::milliseconds migrate_timeout{30'000};

std::string message_of(PGconn* c) {
  std::string m = PQerrorMessage(c);
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m;
}

// Whether PostgreSQL decided against the statement, rather than being
// unable to run it: no SQLSTATE (the connection broke), connection
// exceptions (08), insufficient resources (53), operator intervention such
// as a shutdown (57) and system errors (58) are outages, not refusals.
bool refused(std::string_view sqlstate) {
  if (sqlstate.size() != 5) return false;
  const std::string_view cls = sqlstate.substr(0, 2);
  return cls != "08" && cls != "53" && cls != "57" && cls != "58";
}

using clock = std::chrono::steady_clock;

// Waits in slices short enough to notice `stopping`; throws when the deadline
// passes or the gateway stops.
void await_socket(PGconn* c, short events, clock::time_point deadline, std::chrono::milliseconds budget,
                  const std::atomic<bool>& stopping) {
  constexpr long long slice_ms = 100;
  for (;;) {
    if (stopping.load(std::memory_order_relaxed))  // Ordering: see database::stop()
      throw database_error("stopped waiting for PostgreSQL: the gateway is shutting down");
    const long long left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
    if (left <= 0) throw database_error("no answer from PostgreSQL within " + std::to_string(budget.count()) + " ms");
    pollfd p{PQsocket(c), events, 0};
    if (poll(&p, 1, static_cast<int>(std::min(left, slice_ms))) > 0) return;
  }
}

// The last result of what was sent, waited for the same way; a failing
// statement's error is the last result. Throws when the connection fails.
result_ptr last_result(PGconn* c, clock::time_point deadline, std::chrono::milliseconds budget,
                       const std::atomic<bool>& stopping) {
  result_ptr last;
  for (;;) {
    while (PQisBusy(c)) {
      await_socket(c, POLLIN, deadline, budget, stopping);
      if (!PQconsumeInput(c)) throw database_error(message_of(c));
    }
    PGresult* r = PQgetResult(c);
    if (!r) return last;
    last.reset(r);
  }
}

}  // namespace

database::database(std::string conninfo, std::string schema, std::size_t pool_size, std::chrono::milliseconds timeout)
    : conninfo_(std::move(conninfo)), schema_(std::move(schema)), pool_size_(pool_size), timeout_(timeout) {}

database::~database() {
  for (auto* c : idle_) PQfinish(c);
}

void database::stop() noexcept {
  // Ordering: relaxed; waits poll it every 100 ms and need nothing else.
  stopping_.store(true, std::memory_order_relaxed);
}

pg_conn* database::connect(clock::time_point deadline, std::chrono::milliseconds budget) {
  // Later keywords override what the expanded conninfo says.
  const char* keys[] = {"dbname", "application_name", nullptr};
  const char* values[] = {conninfo_.c_str(), "redis_gateway", nullptr};
  conn_ptr c(PQconnectStartParams(keys, values, 1));
  if (!c) throw database_error("cannot connect to PostgreSQL: out of memory");
  auto failed = [&] { return database_error("cannot connect to PostgreSQL: " + message_of(c.get())); };
  for (PostgresPollingStatusType state = PGRES_POLLING_WRITING; state != PGRES_POLLING_OK;
       state = PQconnectPoll(c.get())) {
    if (state == PGRES_POLLING_FAILED || PQstatus(c.get()) == CONNECTION_BAD) throw failed();
    await_socket(c.get(), state == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline, budget, stopping_);
  }
  char* schema = PQescapeIdentifier(c.get(), schema_.data(), schema_.size());
  if (!schema) throw failed();
  const std::string set = std::string("SET search_path TO ") + schema;
  PQfreemem(schema);
  if (!PQsendQuery(c.get(), set.c_str())) throw failed();
  const result_ptr last = last_result(c.get(), deadline, budget, stopping_);
  if (PQresultStatus(last.get()) != PGRES_COMMAND_OK)
    throw database_error("cannot set search_path: " + message_of(c.get()));
  return c.release();
}

pg_conn* database::acquire(clock::time_point deadline, std::chrono::milliseconds budget, bool& reused) {
  if (stopping_.load(std::memory_order_relaxed))  // Ordering: see stop()
    throw database_error("stopped waiting for PostgreSQL: the gateway is shutting down");
  std::vector<conn_ptr> dead;
  {
    std::lock_guard lock(mutex_);
    while (!idle_.empty()) {
      pg_conn* c = idle_.back();
      idle_.pop_back();
      if (service::idle_socket_alive(PQsocket(c))) {
        reused = true;
        return c;
      }
      dead.emplace_back(c);  // closed outside the lock
    }
  }
  reused = false;
  return connect(deadline, budget);
}

void database::release(pg_conn* c) {
  if (PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) == PQTRANS_IDLE) {
    std::lock_guard lock(mutex_);
    if (idle_.size() < pool_size_) {
      idle_.push_back(c);
      return;
    }
  }
  PQfinish(c);
}

rows database::run(std::string_view type, const std::string& sql,
                   const std::vector<std::optional<std::string>>& params, bool simple,
                   std::chrono::milliseconds budget) {
  const auto start = clock::now();
  metrics.database_queries.with(type).increment();
  try {
    rows out = execute(sql, params, simple, start + budget, budget);
    metrics.database_query_duration.with(type).record(clock::now() - start);
    return out;
  } catch (const database_error&) {
    metrics.database_query_errors.with(type).increment();
    metrics.database_query_duration.with(type).record(clock::now() - start);
    throw;
  }
}

rows database::execute(const std::string& sql, const std::vector<std::optional<std::string>>& params, bool simple,
                       clock::time_point deadline, std::chrono::milliseconds budget) {
  for (int attempt = 1;; ++attempt) {
    bool reused = false;
    conn_ptr c(acquire(deadline, budget, reused));
    std::vector<const char*> values;
    for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
    const int sent = simple ? PQsendQuery(c.get(), sql.c_str())
                            : PQsendQueryParams(c.get(), sql.c_str(), static_cast<int>(values.size()), nullptr,
                                                values.data(), nullptr, nullptr, 0);
    // Not sent, so not run: once more on a fresh connection, when this one
    // came from the pool (a fresh one that fails too means an outage).
    if (!sent && reused && attempt == 1) continue;
    if (!sent) throw database_error(message_of(c.get()));
    const result_ptr last = last_result(c.get(), deadline, budget, stopping_);
    const auto status = PQresultStatus(last.get());
    if (!last || (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK)) {
      database_error e(last && PQresultErrorMessage(last.get())[0] ? PQresultErrorMessage(last.get())
                                                                    : message_of(c.get()));
      if (const char* state = last ? PQresultErrorField(last.get(), PG_DIAG_SQLSTATE) : nullptr) e.sqlstate = state;
      e.rejected = refused(e.sqlstate);
      if (e.rejected) release(c.release());
      throw e;
    }
    rows out;
    const int n = PQntuples(last.get()), f = PQnfields(last.get());
    for (int i = 0; i < n; ++i) {
      auto& row = out.emplace_back();
      for (int j = 0; j < f; ++j)
        row.push_back(PQgetisnull(last.get(), i, j)
                          ? std::nullopt
                          : std::optional<std::string>(
                                std::string(PQgetvalue(last.get(), i, j), PQgetlength(last.get(), i, j))));
    }
    release(c.release());
    return out;
  }
}

void database::migrate() {
  // The schema may not exist yet, so the search_path set at connect names a
  // missing schema; PostgreSQL allows that and resolves it at use.
  std::string schema = "\"";
  for (char ch : schema_) schema += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  schema += '"';
  run("migrate",
      "BEGIN; SELECT pg_advisory_xact_lock(hashtext('redis_gateway.migrate'));"
      "CREATE SCHEMA IF NOT EXISTS " + schema + ";" + schema_sql + "COMMIT;",
      {}, true, migrate_timeout);
}

rows database::query(std::string_view type, const std::string& sql,
                     const std::vector<std::optional<std::string>>& params) {
  return run(type, sql, params, false, timeout_);
}

void database::ping(std::chrono::milliseconds timeout) { run("ping", "SELECT 1", {}, false, timeout); }

}  // namespace redis_gateway
