#include "pq.hpp"

#include <poll.h>

#include <algorithm>
#include <vector>

namespace proxy::pq {

namespace {

std::string message_of(PGconn* conn) {
  std::string m = PQerrorMessage(conn);
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m;
}

// Waits until `fd` is ready for `events`, in slices short enough to notice
// `stop`; throws when the deadline passes or stop is set.
void await_socket(int fd, short events, std::chrono::steady_clock::time_point deadline, const stop_flag* stop,
                  std::chrono::milliseconds timeout) {
  constexpr int slice_ms = 100;
  for (;;) {
    if (stop && stop->load(std::memory_order_relaxed)) throw error("stopped waiting: the proxy is shutting down", {});
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) throw error("no answer within " + std::to_string(timeout.count()) + " ms", {});
    pollfd p{fd, events, 0};
    if (poll(&p, 1, static_cast<int>(std::min<long long>(left, slice_ms))) > 0) return;
  }
}

}  // namespace

connection connect(const std::string& conninfo, const char* application_name, const stop_flag* stop) {
  constexpr std::chrono::seconds login_timeout(10);
  const char* keywords[] = {"dbname", "application_name", nullptr};
  const char* values[] = {conninfo.c_str(), application_name, nullptr};
  connection conn(PQconnectStartParams(keywords, values, 1), &PQfinish);
  if (!conn) throw error("out of memory", {});
  const auto deadline = std::chrono::steady_clock::now() + login_timeout;
  for (PostgresPollingStatusType state = PGRES_POLLING_WRITING;;) {
    if (PQstatus(conn.get()) == CONNECTION_BAD) throw error(message_of(conn.get()), {});
    if (state == PGRES_POLLING_OK) return conn;
    if (state == PGRES_POLLING_FAILED) throw error(message_of(conn.get()), {});
    await_socket(PQsocket(conn.get()), state == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline, stop,
                 login_timeout);
    state = PQconnectPoll(conn.get());
  }
}

result exec(PGconn* conn, const char* sql, std::initializer_list<const char*> params, ExecStatusType want,
            std::chrono::milliseconds timeout, const stop_flag* stop) {
  const std::vector<const char*> values(params);
  if (!PQsendQueryParams(conn, sql, static_cast<int>(values.size()), nullptr, values.data(), nullptr, nullptr, 0))
    throw error(message_of(conn), {});
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // Waits until libpq can hand over the next result without blocking.
  auto wait = [&] {
    while (PQisBusy(conn)) {
      await_socket(PQsocket(conn), POLLIN, deadline, stop, timeout);
      if (!PQconsumeInput(conn)) throw error(message_of(conn), {});
    }
  };
  // The last result is the statement's (the proxy runs one per call).
  result out(nullptr, &PQclear);
  for (wait(); PGresult* r = PQgetResult(conn); wait()) out.reset(r);
  if (!out) throw error(message_of(conn), {});
  if (PQresultStatus(out.get()) != want) {
    const char* code = PQresultErrorField(out.get(), PG_DIAG_SQLSTATE);
    std::string message = PQresultErrorMessage(out.get());
    while (!message.empty() && message.back() == '\n') message.pop_back();
    throw error(message.empty() ? message_of(conn) : message, code ? code : "");
  }
  return out;
}

}  // namespace proxy::pq
