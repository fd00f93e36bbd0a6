#include "pg_pool.hpp"

#include <libpq-fe.h>
#include <obs/scoped_timer.hpp>

namespace gateway {

pg_rows::~pg_rows() {
  if (result_ != nullptr) PQclear(result_);
}

int pg_rows::size() const noexcept { return PQntuples(result_); }

std::string_view pg_rows::at(int row, int col) const noexcept {
  return {PQgetvalue(result_, row, col), static_cast<std::size_t>(PQgetlength(result_, row, col))};
}

bool pg_rows::is_null(int row, int col) const noexcept { return PQgetisnull(result_, row, col) != 0; }

pg_pool::pg_pool(std::string conninfo, std::size_t size) : conninfo_(std::move(conninfo)), size_(size) {}

pg_pool::~pg_pool() {
  for (pg_conn* c : idle_) PQfinish(c);
}

pg_pool::lease pg_pool::acquire(std::chrono::milliseconds timeout) {
  OBS_SCOPED_TIMER("db_pool_wait_duration_seconds");
  std::unique_lock lock(mutex_);
  if (!freed_.wait_for(lock, timeout, [this] { return !idle_.empty() || open_ < size_; }))
    throw db_error("no database connection free within " + std::to_string(timeout.count()) + " ms");
  if (!idle_.empty()) {
    pg_conn* c = idle_.back();
    idle_.pop_back();
    return lease(this, c);
  }
  ++open_;
  lock.unlock();
  // Connecting outside the lock: a slow server holds up only this caller.
  pg_conn* c = PQconnectdb(conninfo_.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    std::string message = PQerrorMessage(c);
    PQfinish(c);
    give_back(nullptr, false);
    while (!message.empty() && message.back() == '\n') message.pop_back();
    throw db_error("cannot connect to the database: " + message);
  }
  // NOTICEs ("relation already exists, skipping") are not the operator's business.
  PQsetNoticeProcessor(c, [](void*, const char*) {}, nullptr);
  return lease(this, c);
}

void pg_pool::give_back(pg_conn* c, bool healthy) noexcept {
  {
    std::lock_guard lock(mutex_);
    if (c != nullptr && healthy && PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) == PQTRANS_IDLE) {
      idle_.push_back(c);
    } else {
      if (c != nullptr) PQfinish(c);
      --open_;
    }
  }
  freed_.notify_one();
}

pg_pool::lease::~lease() {
  if (conn_ != nullptr) pool_->give_back(conn_, healthy_);
}

pg_rows pg_pool::lease::exec(std::string_view sql, std::initializer_list<std::optional<std::string_view>> params) {
  return exec(sql, std::vector<std::optional<std::string_view>>(params));
}

pg_rows pg_pool::lease::exec(std::string_view sql, const std::vector<std::optional<std::string_view>>& params) {
  OBS_SCOPED_TIMER("db_query_duration_seconds");
  std::vector<std::string> owned;  // libpq wants NUL-terminated values
  owned.reserve(params.size());
  std::vector<const char*> values;
  for (const auto& p : params) {
    if (p) {
      owned.emplace_back(*p);
      values.push_back(owned.back().c_str());
    } else {
      values.push_back(nullptr);
    }
  }
  const std::string text(sql);
  pg_result* r = PQexecParams(conn_, text.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                              nullptr, 0);
  const ExecStatusType status = PQresultStatus(r);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return pg_rows(r);
  std::string message = r != nullptr ? PQresultErrorMessage(r) : PQerrorMessage(conn_);
  PQclear(r);
  if (PQstatus(conn_) != CONNECTION_OK) healthy_ = false;
  while (!message.empty() && message.back() == '\n') message.pop_back();
  throw db_error(message.empty() ? "query failed" : message);
}

}  // namespace gateway
