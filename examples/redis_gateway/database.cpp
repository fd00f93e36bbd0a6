#include "database.hpp"

#include <libpq-fe.h>

#include <memory>

#include "metrics.hpp"

namespace redis_gateway {
namespace {

struct result_deleter {
  void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using result_ptr = std::unique_ptr<PGresult, result_deleter>;

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
)sql";

std::string quoted(pg_conn* c, const std::string& ident) {
  char* q = PQescapeIdentifier(c, ident.data(), ident.size());
  if (!q) throw database_error(PQerrorMessage(c));
  std::string out(q);
  PQfreemem(q);
  return out;
}

}  // namespace

database::database(std::string conninfo, std::string schema, std::size_t pool_size)
    : conninfo_(std::move(conninfo)), schema_(std::move(schema)), pool_size_(pool_size) {}

database::~database() {
  for (auto* c : idle_) PQfinish(c);
}

pg_conn* database::acquire() {
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      pg_conn* c = idle_.back();
      idle_.pop_back();
      return c;
    }
  }
  // Later keywords override what the expanded conninfo says.
  const char* keys[] = {"dbname", "connect_timeout", "application_name", nullptr};
  const char* values[] = {conninfo_.c_str(), "3", "redis_gateway", nullptr};
  pg_conn* c = PQconnectdbParams(keys, values, 1);
  if (PQstatus(c) != CONNECTION_OK) {
    database_error e(std::string("cannot connect to PostgreSQL: ") + PQerrorMessage(c));
    PQfinish(c);
    throw e;
  }
  result_ptr r(PQexec(c, ("SET search_path TO " + quoted(c, schema_)).c_str()));
  if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
    database_error e(std::string("cannot set search_path: ") + PQerrorMessage(c));
    PQfinish(c);
    throw e;
  }
  return c;
}

void database::release(pg_conn* c, bool healthy) {
  if (healthy && PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) == PQTRANS_IDLE) {
    std::lock_guard lock(mutex_);
    if (idle_.size() < pool_size_) {
      idle_.push_back(c);
      return;
    }
  }
  PQfinish(c);
}

void database::migrate() {
  const auto start = std::chrono::steady_clock::now();
  OBS_COUNTER_FAMILY("database_queries_total", "type").with("migrate").increment();
  pg_conn* c = nullptr;
  try {
    // The schema may not exist yet, so SET search_path in acquire() names a
    // missing schema; PostgreSQL allows that and resolves it at use.
    c = acquire();
    const std::string sql = "BEGIN; SELECT pg_advisory_xact_lock(hashtext('redis_gateway.migrate'));"
                            "CREATE SCHEMA IF NOT EXISTS " + quoted(c, schema_) + ";" + schema_sql + "COMMIT;";
    result_ptr r(PQexec(c, sql.c_str()));
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
      database_error e(std::string("migration failed: ") + PQerrorMessage(c));
      PQfinish(c);
      throw e;
    }
    release(c, true);
  } catch (const database_error&) {
    OBS_COUNTER_FAMILY("database_query_errors_total", "type").with("migrate").increment();
    OBS_HISTOGRAM_FAMILY("database_query_duration_seconds", "type").with("migrate").record(std::chrono::steady_clock::now() - start);
    throw;
  }
  OBS_HISTOGRAM_FAMILY("database_query_duration_seconds", "type").with("migrate").record(std::chrono::steady_clock::now() - start);
}

rows database::query(std::string_view type, const std::string& sql,
                     const std::vector<std::optional<std::string>>& params) {
  const auto start = std::chrono::steady_clock::now();
  OBS_COUNTER_FAMILY("database_queries_total", "type").with(type).increment();
  auto finish = [&](bool failed) {
    if (failed) OBS_COUNTER_FAMILY("database_query_errors_total", "type").with(type).increment();
    OBS_HISTOGRAM_FAMILY("database_query_duration_seconds", "type").with(type).record(std::chrono::steady_clock::now() - start);
  };
  pg_conn* c = nullptr;
  try {
    c = acquire();
  } catch (const database_error&) {
    finish(true);
    throw;
  }
  std::vector<const char*> values;
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  result_ptr r(PQexecParams(c, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                            nullptr, 0));
  const auto status = PQresultStatus(r.get());
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    database_error e(PQresultErrorMessage(r.get())[0] ? PQresultErrorMessage(r.get()) : PQerrorMessage(c));
    if (const char* state = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE)) {
      e.sqlstate = state;
      // Class 08 is a connection exception; anything else the server decided.
      e.rejected = e.sqlstate.rfind("08", 0) != 0;
    }
    release(c, e.rejected);
    finish(true);
    throw e;
  }
  rows out;
  const int n = PQntuples(r.get()), f = PQnfields(r.get());
  for (int i = 0; i < n; ++i) {
    auto& row = out.emplace_back();
    for (int j = 0; j < f; ++j)
      row.push_back(PQgetisnull(r.get(), i, j) ? std::nullopt
                                               : std::optional<std::string>(std::string(PQgetvalue(r.get(), i, j),
                                                                                        PQgetlength(r.get(), i, j))));
  }
  release(c, true);
  finish(false);
  return out;
}

}  // namespace redis_gateway
