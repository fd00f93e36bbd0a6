#include "pq.hpp"

#include <poll.h>

#include <vector>

namespace proxy::pq {

namespace {

std::string message_of(PGconn* conn) {
  std::string m = PQerrorMessage(conn);
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m;
}

}  // namespace

connection connect(const std::string& conninfo, const char* application_name) {
  // Keywords before dbname are defaults the expanded conninfo overrides;
  // those after it override the conninfo.
  const char* keywords[] = {"connect_timeout", "dbname", "application_name", nullptr};
  const char* values[] = {"10", conninfo.c_str(), application_name, nullptr};
  connection conn(PQconnectdbParams(keywords, values, 1), &PQfinish);
  if (!conn) throw error("out of memory", {});
  if (PQstatus(conn.get()) != CONNECTION_OK) throw error(message_of(conn.get()), {});
  return conn;
}

result exec(PGconn* conn, const char* sql, std::initializer_list<const char*> params, ExecStatusType want,
            std::chrono::milliseconds timeout) {
  const std::vector<const char*> values(params);
  if (!PQsendQueryParams(conn, sql, static_cast<int>(values.size()), nullptr, values.data(), nullptr, nullptr, 0))
    throw error(message_of(conn), {});
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // Waits until libpq can hand over the next result without blocking.
  auto wait = [&] {
    while (PQisBusy(conn)) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) throw error("no answer within " + std::to_string(timeout.count()) + " ms", {});
      pollfd readable{PQsocket(conn), POLLIN, 0};
      if (poll(&readable, 1, static_cast<int>(left.count())) < 0) continue;  // EINTR
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
