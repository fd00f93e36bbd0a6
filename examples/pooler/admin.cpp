// The admin console: SHOW commands and RELOAD on the pgdoorman/pgbouncer
// database. Replies are pgbouncer's: RowDescription (table OID 0, attnum 0,
// typmod -1, text format), DataRows, CommandComplete "SHOW".
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "pgwire/messages.hpp"
#include "pgwire/protocol.hpp"
#include "pgwire/stream.hpp"
#include "service.hpp"

namespace pooler {
namespace {

constexpr std::int32_t text = pgwire::type_oid::text;
constexpr std::int32_t int4 = pgwire::type_oid::int4;
constexpr std::int32_t numeric = pgwire::type_oid::numeric;

// A reply table: columns, then rows of text values (nullopt is NULL).
class table {
 public:
  table(std::initializer_list<std::pair<const char*, std::int32_t>> columns) {
    for (auto [name, oid] : columns) {
      pgwire::column c;
      c.name = name;
      c.type_oid = oid;
      c.type_size = oid == int4 ? 4 : -1;
      columns_.push_back(std::move(c));
    }
  }
  void row(std::vector<std::optional<std::string>> values) { rows_.push_back(std::move(values)); }
  void write(std::string& out) const {
    pgwire::row_description(out, columns_);
    std::vector<std::optional<std::string_view>> views;
    for (const auto& r : rows_) {
      views.assign(r.begin(), r.end());
      pgwire::data_row(out, views);
    }
    pgwire::command_complete(out, "SHOW");
  }

 private:
  std::vector<pgwire::column> columns_;
  std::vector<std::vector<std::optional<std::string>>> rows_;
};

std::string num(std::uint64_t v) { return std::to_string(v); }

std::string timestamp(std::chrono::system_clock::time_point t, const char* format = "%Y-%m-%d %H:%M:%S") {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

std::string pointer(const void* p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%p", p);
  return buf;
}

// The statement in upper case with runs of blanks collapsed, without `;`.
std::string normalize(std::string_view sql) {
  std::string out;
  bool blank = false;
  for (char ch : sql) {
    if (std::isspace(static_cast<unsigned char>(ch))) {
      blank = !out.empty();
      continue;
    }
    if (blank) out += ' ';
    blank = false;
    out += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  }
  return out;
}

}  // namespace

/// Reads the service's state for the console; a friend of service.
struct admin_view {
  service& s;

  void pools(std::string& out) const {
    table t{{"database", text},  {"user", text},     {"cl_active", int4},  {"cl_waiting", int4},
            {"cl_active_cancel_req", int4}, {"cl_waiting_cancel_req", int4}, {"sv_active", int4},
            {"sv_active_cancel", int4},     {"sv_being_canceled", int4},     {"sv_idle", int4},
            {"sv_used", int4}, {"sv_tested", int4}, {"sv_login", int4},  {"maxwait", int4},
            {"maxwait_us", int4}, {"pool_mode", text}, {"load_balance_hosts", text}, {"source", text}};
    auto now = steady::now();
    for (const auto& [key, p] : s.pools_) {
      std::chrono::microseconds wait{0};
      if (!p->waiters.empty())
        wait = std::chrono::duration_cast<std::chrono::microseconds>(now - p->waiters.front()->asked);
      unsigned waiting = static_cast<unsigned>(p->waiters.size());
      unsigned active = p->clients > waiting ? p->clients - waiting : 0;
      t.row({p->database, p->user, num(active), num(waiting), "0", "0", num(p->busy.size()), "0", "0",
             num(p->idle.size()), "0", "0", num(p->connecting), num(static_cast<std::uint64_t>(wait.count() / 1000000)),
             num(static_cast<std::uint64_t>(wait.count() % 1000000)), to_string(p->mode), std::nullopt,
             p->dynamic ? "auth_query" : "config"});
    }
    t.write(out);
  }

  void clients(std::string& out) const {
    table t{{"type", text},         {"user", text},        {"database", text},   {"state", text},
            {"addr", text},         {"port", int4},        {"local_addr", text}, {"local_port", int4},
            {"connect_time", text}, {"request_time", text}, {"wait", int4},      {"wait_us", int4},
            {"close_needed", int4}, {"ptr", text},         {"link", text},       {"remote_pid", int4},
            {"tls", text},          {"application_name", text}, {"auth_source", text}};
    for (const auto& [id, c] : s.clients_) {
      if (c->user.empty()) continue;  // still in the startup phase
      boost::system::error_code ec;
      auto local = c->socket.local_endpoint(ec);
      t.row({"C", c->user, c->database, c->waiting ? "waiting" : "active", c->addr, num(c->port),
             ec ? std::string() : local.address().to_string(), ec ? "0" : num(local.port()), timestamp(c->connect_time),
             timestamp(c->request_time), "0", "0", "0", pointer(c.get()),
             c->server ? std::optional<std::string>(pointer(c->server.get())) : std::nullopt, "0", std::nullopt,
             c->application_name, c->admin ? "admin" : (c->source == auth_source::config ? "config" : "auth_query")});
    }
    t.write(out);
  }

  void servers(std::string& out) const {
    table t{{"type", text},         {"user", text},         {"database", text},   {"state", text},
            {"addr", text},         {"port", int4},         {"local_addr", text}, {"local_port", int4},
            {"connect_time", text}, {"request_time", text}, {"wait", int4},       {"wait_us", int4},
            {"close_needed", int4}, {"ptr", text},          {"link", text},       {"remote_pid", int4},
            {"tls", text},          {"application_name", text}};
    for (const auto& entry : s.pools_) {
      const auto& p = entry.second;  // a lambda cannot capture a structured binding in clang 15
      auto add = [&](const server_conn& sv, const char* state) {
        boost::system::error_code ec;
        auto local = sv.socket.local_endpoint(ec);
        t.row({"S", p->user, p->database, state, p->host, num(p->port), ec ? std::string() : local.address().to_string(),
               ec ? "0" : num(local.port()), timestamp(sv.connect_time), timestamp(sv.request_time), "0", "0", "0",
               pointer(&sv), sv.link ? std::optional<std::string>(pointer(sv.link.get())) : std::nullopt,
               std::to_string(sv.process_id), std::nullopt, std::nullopt});
      };
      for (const auto& sv : p->busy) add(*sv, "active");
      for (const auto& sv : p->idle) add(*sv, "idle");
    }
    t.write(out);
  }

  void stats(std::string& out) const {
    table t{{"database", text},          {"total_xact_count", numeric}, {"total_query_count", numeric},
            {"total_received", numeric}, {"total_sent", numeric},       {"total_xact_time", numeric},
            {"total_query_time", numeric}, {"total_wait_time", numeric}, {"avg_xact_count", numeric},
            {"avg_query_count", numeric}, {"avg_recv", numeric},         {"avg_sent", numeric},
            {"avg_xact_time", numeric},  {"avg_query_time", numeric},   {"avg_wait_time", numeric}};
    auto uptime = std::max<std::int64_t>(
        1, std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now() - s.started_).count());
    for (const auto& [name, db] : s.databases_) {
      pool_stats total = db->retired_stats;
      for (const auto& [key, p] : s.pools_)
        if (key.first == name) total += p->stats;
      std::uint64_t xacts = total.xact_count, queries = total.query_count, received = total.bytes_received,
                    sent = total.bytes_sent, xact_us = static_cast<std::uint64_t>(total.xact_time.count()),
                    query_us = static_cast<std::uint64_t>(total.query_time.count()),
                    wait_us = static_cast<std::uint64_t>(total.wait_time.count());
      auto per_second = [&](std::uint64_t v) { return num(v / static_cast<std::uint64_t>(uptime)); };
      auto per = [](std::uint64_t v, std::uint64_t n) { return num(n ? v / n : 0); };
      t.row({name, num(xacts), num(queries), num(received), num(sent), num(xact_us), num(query_us), num(wait_us),
             per_second(xacts), per_second(queries), per_second(received), per_second(sent), per(xact_us, xacts),
             per(query_us, queries), per(wait_us, xacts)});
    }
    t.write(out);
  }

  void auth_query_cache(std::string& out) const {
    table t{{"database", text},  {"username", text},    {"password_type", text}, {"cached_at", text},
            {"expires_in", text}, {"is_negative", text}, {"last_refetch", text}};
    auto now = steady::now();
    for (const auto& [name, db] : s.databases_) {
      if (!db->cache) continue;
      for (const auto& r : db->cache->rows(now)) {
        auto seconds = (r.expires_in.count() + 999) / 1000;
        t.row({name, r.user, r.e->value ? r.e->value->type_name() : "-", timestamp(r.e->cached_at),
               std::to_string(seconds) + "s", r.e->value ? "false" : "true",
               r.e->last_refetch ? timestamp(*r.e->last_refetch, "%H:%M:%S") : "never"});
      }
    }
    t.write(out);
  }

  void auth_query_executors(std::string& out) const {
    // The seed's columns: the pooler database, then the executor's own.
    table t{{"database", text}, {"user", text}, {"database", text}, {"pool_size", int4}, {"active", int4}, {"status", text}};
    for (const auto& [name, db] : s.databases_) {
      if (!db->exec) continue;
      const auto& ex = *db->exec;
      auto connected = static_cast<unsigned>(
          std::count_if(ex.conns.begin(), ex.conns.end(), [](const auto& c) { return c->connected; }));
      const char* status = connected == ex.conns.size() ? "ready" : connected > 0 ? "degraded" : "disconnected";
      t.row({name, ex.cfg.user, ex.cfg.dbname, num(ex.cfg.workers), num(ex.busy), status});
    }
    t.write(out);
  }

  void databases(std::string& out) const {
    table t{{"name", text},         {"host", text},      {"port", int4},          {"database", text},
            {"force_user", text},   {"pool_size", int4}, {"min_pool_size", int4}, {"reserve_pool", int4},
            {"pool_mode", text},    {"max_connections", int4}, {"current_connections", int4}, {"paused", int4},
            {"disabled", int4}};
    for (const auto& [name, db] : s.databases_) {
      std::uint64_t current = 0;
      for (const auto& [key, p] : s.pools_)
        if (key.first == name) current += p->busy.size() + p->idle.size();
      t.row({name, db->cfg.host, num(db->cfg.port), db->cfg.dbname, std::nullopt, num(db->cfg.pool_size), "0", "0",
             to_string(db->cfg.mode), "0", num(current), "0", "0"});
    }
    t.write(out);
  }

  void lists(std::string& out) const {
    std::uint64_t used_servers = 0, free_servers = 0, users = 0;
    for (const auto& [key, p] : s.pools_) {
      used_servers += p->busy.size();
      free_servers += p->idle.size();
    }
    for (const auto& [name, db] : s.databases_) users += db->cfg.users.size();
    table t{{"list", text}, {"items", int4}};
    t.row({"databases", num(s.databases_.size())});
    t.row({"users", num(users)});
    t.row({"pools", num(s.pools_.size())});
    t.row({"free_clients", "0"});
    t.row({"used_clients", num(s.clients_.size())});
    t.row({"login_clients", "0"});
    t.row({"free_servers", num(free_servers)});
    t.row({"used_servers", num(used_servers)});
    t.row({"dns_names", "0"});
    t.row({"dns_zones", "0"});
    t.row({"dns_queries", "0"});
    t.row({"dns_pending", "0"});
    t.write(out);
  }

  void show_config(std::string& out) const {
    table t{{"key", text}, {"value", text}, {"default", text}, {"changeable", text}};
    auto ms = [](std::chrono::milliseconds v) { return std::to_string(v.count() / 1000.0); };
    const auto& c = s.cfg_;
    t.row({"listen_addr", c.listen.host, "127.0.0.1", "no"});
    t.row({"listen_port", num(c.listen.port), "6432", "no"});
    t.row({"admin_users", c.admin_user, "admin", "yes"});
    t.row({"max_client_conn", num(c.max_client_conn), "1000", "yes"});
    t.row({"query_wait_timeout", ms(c.query_wait_timeout), "5", "yes"});
    t.row({"server_connect_timeout", ms(c.server_connect_timeout), "5", "yes"});
    t.row({"gc_interval", ms(c.gc_interval), "10", "yes"});
    t.row({"max_message_size", num(c.max_message_size), "16777216", "no"});
    t.row({"shutdown_timeout", ms(c.shutdown_timeout), "10", "no"});
    t.row({"health_check_timeout", ms(c.health_check_timeout), "0.5", "yes"});
    t.write(out);
  }
};

asio::awaitable<void> service::serve_admin(std::shared_ptr<client> c) {
  if (c->user != cfg_.admin_user || cfg_.admin_password.empty()) {
    co_await write_all(c->socket, error_message("FATAL", pgwire::sqlstate::invalid_authorization,
                                                "not allowed to connect to the admin console"));
    co_return;
  }
  auto s = parse_secret(cfg_.admin_password, true);
  if (!s || !co_await authenticate(*c, *s, {})) {
    co_await write_all(c->socket, error_message("FATAL", pgwire::sqlstate::invalid_password,
                                                "password authentication failed for user \"" + c->user + "\""));
    co_return;
  }
  c->logged_in = true;
  std::string out;
  pgwire::authentication_ok(out);
  for (auto [name, value] : {std::pair{"server_version", "15.0 (pooler)"}, {"server_encoding", "UTF8"},
                             {"client_encoding", "UTF8"}, {"DateStyle", "ISO"}, {"integer_datetimes", "on"},
                             {"standard_conforming_strings", "on"}})
    pgwire::parameter_status(out, name, value);
  pgwire::backend_key_data(out, c->cancel_pid, c->cancel_key);
  pgwire::ready_for_query(out, 'I');
  co_await write_all(c->socket, out);
  for (;;) {
    auto m = co_await pgwire::async_read_message(c->socket, c->decoder);
    out.clear();
    if (m.type == 'X') co_return;
    if (m.type == 'Q') {
      out = admin_query(pgwire::parse_query(m.body));
    } else if (m.type != 'S') {
      // Extended-protocol messages until the Sync get this one error.
      if (c->extended_open) continue;
      c->extended_open = true;
      pgwire::error_response(out, {"ERROR", pgwire::sqlstate::protocol_violation,
                                   "the admin console supports the simple query protocol only", {}, {}});
      co_await write_all(c->socket, out);
      continue;
    }
    c->extended_open = false;
    pgwire::ready_for_query(out, 'I');
    co_await write_all(c->socket, out);
  }
}

std::string service::admin_query(std::string_view sql) {
  std::string out;
  admin_view view{*this};
  bool any = false;
  // Several statements may come in one Query ("SHOW LISTS; SHOW POOLS;").
  while (!sql.empty()) {
    auto semicolon = sql.find(';');
    auto statement = normalize(sql.substr(0, semicolon));
    sql = semicolon == std::string_view::npos ? std::string_view{} : sql.substr(semicolon + 1);
    if (statement.empty()) continue;
    any = true;
    if (statement == "SHOW POOLS") view.pools(out);
    else if (statement == "SHOW CLIENTS") view.clients(out);
    else if (statement == "SHOW SERVERS") view.servers(out);
    else if (statement == "SHOW STATS") view.stats(out);
    else if (statement == "SHOW AUTH_QUERY_CACHE") view.auth_query_cache(out);
    else if (statement == "SHOW AUTH_QUERY_EXECUTORS") view.auth_query_executors(out);
    else if (statement == "SHOW DATABASES") view.databases(out);
    else if (statement == "SHOW LISTS") view.lists(out);
    else if (statement == "SHOW CONFIG") view.show_config(out);
    else if (statement == "SHOW VERSION") {
      table t{{"version", text}};
      t.row({"pooler (obs example) 0.1"});
      t.write(out);
    } else if (statement.starts_with("SET ")) {
      // Tools such as pgbouncer_exporter set extra_float_digits first.
      pgwire::command_complete(out, "SET");
    } else if (statement == "RELOAD") {
      auto error = reload();
      if (!error.empty()) {
        pgwire::error_response(out, {"ERROR", pgwire::sqlstate::system_error, "RELOAD failed: " + error, {}, {}});
        return out;
      }
      pgwire::command_complete(out, "RELOAD");
    } else {
      pgwire::error_response(out, {"ERROR", pgwire::sqlstate::system_error, "unsupported admin command: " + statement, {}, {}});
      return out;  // like PostgreSQL, an error ends the query string
    }
  }
  if (!any) pgwire::empty_query_response(out);
  return out;
}

}  // namespace pooler
