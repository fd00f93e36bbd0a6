#include "pg_pool.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <libpq-fe.h>
#include <obs/scoped_timer.hpp>
#include <service/idle_socket.hpp>

#include <algorithm>
#include <tuple>

namespace gateway {

namespace asio = boost::asio;
using asio::awaitable;
using wait_type = asio::posix::descriptor_base::wait_type;

namespace {

constexpr auto token = asio::as_tuple(asio::use_awaitable);
constexpr const char* stopping = "the gateway is stopping";

std::string message_of(PGconn* c) {
  std::string m = PQerrorMessage(c);
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m.empty() ? "the connection to the database failed" : m;
}

// Waits until `socket` is ready for `what`; throws db_error at `deadline`
// (raced on `timer`), on a socket error, or once `stopped` is set.
awaitable<void> await_socket(pg_pool::clock::time_point deadline, asio::posix::stream_descriptor& socket,
                                    asio::steady_timer& timer, wait_type what, const bool& stopped) {
  if (stopped) throw db_error(stopping);
  boost::system::error_code ec;
  if (deadline == pg_pool::clock::time_point::max()) {
    std::tie(ec) = co_await socket.async_wait(what, token);
  } else {
    timer.expires_at(deadline);
    auto [order, socket_error, timer_error] =
        co_await asio::experimental::make_parallel_group(socket.async_wait(what, asio::deferred),
                                                         timer.async_wait(asio::deferred))
            .async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
    if (!stopped && order[0] == 1) throw db_error("no answer from the database in time");
    ec = socket_error;
  }
  if (stopped) throw db_error(stopping);
  if (ec) throw db_error(ec.message());
}

}  // namespace

pg_rows::~pg_rows() {
  if (result_ != nullptr) PQclear(result_);
}

int pg_rows::size() const noexcept { return PQntuples(result_); }

std::string_view pg_rows::at(int row, int col) const noexcept {
  return {PQgetvalue(result_, row, col), static_cast<std::size_t>(PQgetlength(result_, row, col))};
}

bool pg_rows::is_null(int row, int col) const noexcept { return PQgetisnull(result_, row, col) != 0; }

// One libpq connection and what waits on its socket.
struct pg_pool::connection {
  explicit connection(asio::any_io_executor ex) : socket(ex), deadline(ex) {}
  ~connection() {
    release_socket();
    if (pg != nullptr) PQfinish(pg);
  }
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  // The descriptor is libpq's: Asio only watches it, and must not close it.
  void release_socket() noexcept {
    if (socket.is_open()) socket.release();
  }

  PGconn* pg = nullptr;
  asio::posix::stream_descriptor socket;
  asio::steady_timer deadline;
};

// A caller of acquire() waiting for a connection to be given back.
struct pg_pool::waiter {
  explicit waiter(asio::any_io_executor ex) : timer(ex) {}
  asio::steady_timer timer;              // expires at the caller's deadline; cancelled to wake it
  std::unique_ptr<connection> conn;      // a connection given back, handed straight over
  bool slot = false;                     // or room to open a connection of its own
};

pg_pool::pg_pool(asio::any_io_executor ex, std::string conninfo, std::size_t size,
                 std::chrono::milliseconds acquire_timeout)
    : executor_(std::move(ex)), conninfo_(std::move(conninfo)), size_(size), acquire_timeout_(acquire_timeout) {}

pg_pool::~pg_pool() = default;

awaitable<pg_pool::lease> pg_pool::acquire() { return acquire(clock::now() + acquire_timeout_); }

awaitable<pg_pool::lease> pg_pool::acquire(clock::time_point deadline) {
  OBS_SCOPED_TIMER("db_pool_wait_duration_seconds");
  if (stopped_) throw db_error(stopping);
  // The most recently used first: the others may then time out on the
  // server's side, and are found dead here instead of failing a query.
  while (!idle_.empty()) {
    std::unique_ptr<connection> c = std::move(idle_.back());
    idle_.pop_back();
    if (service::idle_socket_alive(PQsocket(c->pg))) {
      busy_.insert(c.get());
      co_return lease(this, std::move(c));
    }
    --open_;  // closed as `c` goes; a new one replaces it below
  }
  if (open_ < size_ && waiters_.empty()) {
    ++open_;
  } else {
    waiter w(executor_);
    w.timer.expires_at(deadline);
    waiters_.push_back(&w);
    co_await w.timer.async_wait(token);
    // Whatever woke it, what it was given decides: a connection may have
    // been handed over just as the deadline passed.
    if (auto it = std::find(waiters_.begin(), waiters_.end(), &w); it != waiters_.end()) waiters_.erase(it);
    if (w.conn) {
      busy_.insert(w.conn.get());
      co_return lease(this, std::move(w.conn));
    }
    if (!w.slot)
      throw db_error(stopped_ ? std::string(stopping)
                              : "no database connection free within " + std::to_string(acquire_timeout_.count()) +
                                    " ms");
  }
  try {
    co_return lease(this, co_await open(deadline));
  } catch (...) {
    slot_freed();
    throw;
  }
}

awaitable<std::unique_ptr<pg_pool::connection>> pg_pool::open(clock::time_point deadline) {
  auto c = std::make_unique<connection>(executor_);
  // Listed while it opens, so that stop() reaches it too.
  busy_.insert(c.get());
  struct unlist {
    pg_pool* pool;
    connection* c;
    ~unlist() {
      if (c != nullptr) pool->busy_.erase(c);
    }
  } listed{this, c.get()};
  // The connections show as the gateway's in pg_stat_activity unless the
  // conninfo names another application_name.
  const char* const keywords[] = {"dbname", "fallback_application_name", nullptr};
  const char* const values[] = {conninfo_.c_str(), "obs_gateway", nullptr};
  c->pg = PQconnectStartParams(keywords, values, 1);
  if (c->pg == nullptr) throw db_error("cannot connect to the database: out of memory");
  for (PostgresPollingStatusType state = PGRES_POLLING_WRITING; state != PGRES_POLLING_OK;) {
    if (state == PGRES_POLLING_FAILED || PQstatus(c->pg) == CONNECTION_BAD)
      throw db_error("cannot connect to the database: " + message_of(c->pg));
    // libpq may move to another socket between steps (the next address, or
    // a server that refused SSL), so each step watches the one it names.
    c->socket.assign(PQsocket(c->pg));
    co_await await_socket(deadline, c->socket, c->deadline,
                          state == PGRES_POLLING_READING ? wait_type::wait_read : wait_type::wait_write, stopped_);
    c->release_socket();
    state = PQconnectPoll(c->pg);
  }
  PQsetnonblocking(c->pg, 1);
  // NOTICEs ("relation already exists, skipping") are not the operator's business.
  PQsetNoticeProcessor(c->pg, [](void*, const char*) {}, nullptr);
  c->socket.assign(PQsocket(c->pg));
  listed.c = nullptr;  // the lease takes it over, listed
  co_return c;
}

void pg_pool::give_back(std::unique_ptr<connection> c) noexcept {
  busy_.erase(c.get());
  // A query that did not end cleanly (a deadline, a stop, a lost
  // connection) leaves it in no state to reuse.
  if (stopped_ || PQstatus(c->pg) != CONNECTION_OK || PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
    c.reset();
    slot_freed();
    return;
  }
  if (!waiters_.empty()) {
    waiter* w = waiters_.front();
    waiters_.pop_front();
    w->conn = std::move(c);
    w->timer.cancel();
    return;
  }
  idle_.push_back(std::move(c));
}

void pg_pool::slot_freed() noexcept {
  if (!waiters_.empty()) {
    waiter* w = waiters_.front();  // the slot passes to it, so open_ stays
    waiters_.pop_front();
    w->slot = true;
    w->timer.cancel();
    return;
  }
  --open_;
}

void pg_pool::stop() {
  stopped_ = true;
  for (waiter* w : waiters_) w->timer.cancel();
  waiters_.clear();
  for (connection* c : busy_) {
    boost::system::error_code ignored;
    c->socket.cancel(ignored);
    c->deadline.cancel();
  }
  open_ -= idle_.size();
  idle_.clear();
}

pg_pool::lease::lease(pg_pool* p, std::unique_ptr<connection> c) noexcept : pool_(p), conn_(std::move(c)) {}

pg_pool::lease::lease(lease&& other) noexcept : pool_(other.pool_), conn_(std::move(other.conn_)) {}

pg_pool::lease::~lease() {
  if (conn_) pool_->give_back(std::move(conn_));
}

awaitable<pg_rows> pg_pool::lease::exec(std::string sql, std::vector<std::optional<std::string>> params,
                                        clock::time_point deadline) {
  OBS_SCOPED_TIMER("db_query_duration_seconds");
  connection& c = *conn_;
  const bool& stopped = pool_->stopped_;
  if (stopped) throw db_error(stopping);
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  if (!PQsendQueryParams(c.pg, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr, nullptr,
                         0))
    throw db_error(message_of(c.pg));
  // A query larger than the socket's buffer goes out as the server reads it.
  for (int pending; (pending = PQflush(c.pg)) != 0;) {
    if (pending < 0) throw db_error(message_of(c.pg));
    co_await await_socket(deadline, c.socket, c.deadline, wait_type::wait_write, stopped);
  }
  // One statement, one result; libpq ends the list with a null.
  std::unique_ptr<PGresult, decltype(&PQclear)> result(nullptr, &PQclear);
  for (;;) {
    while (PQisBusy(c.pg)) {
      co_await await_socket(deadline, c.socket, c.deadline, wait_type::wait_read, stopped);
      if (!PQconsumeInput(c.pg)) throw db_error(message_of(c.pg));
    }
    PGresult* r = PQgetResult(c.pg);
    if (r == nullptr) break;
    result.reset(r);
  }
  if (!result) throw db_error(message_of(c.pg));
  const ExecStatusType status = PQresultStatus(result.get());
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) co_return pg_rows(result.release());
  std::string message = PQresultErrorMessage(result.get());
  while (!message.empty() && message.back() == '\n') message.pop_back();
  throw db_error(message.empty() ? "query failed" : message);
}

}  // namespace gateway
