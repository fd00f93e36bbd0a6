#include "config.hpp"

#include <toml++/toml.h>

#include <fstream>
#include <sstream>

namespace pooler {
namespace {

// Reads typed values out of one table, naming the full key in every error.
class table_reader {
 public:
  table_reader(const toml::table& table, std::string prefix) : table_(table), prefix_(std::move(prefix)) {}

  std::string key(std::string_view name) const { return prefix_.empty() ? std::string(name) : prefix_ + "." + std::string(name); }

  void string(std::string_view name, std::string& out) const {
    if (auto* node = table_.get(name)) {
      auto v = node->value<std::string>();
      if (!node->is_string() || !v) throw config_error(key(name) + ": expected a string");
      out = *v;
    }
  }
  void integer(std::string_view name, unsigned& out, std::int64_t min, std::int64_t max) const {
    if (auto* node = table_.get(name)) {
      auto v = node->value<std::int64_t>();
      if (!node->is_integer() || !v || *v < min || *v > max)
        throw config_error(key(name) + ": expected an integer from " + std::to_string(min) + " to " + std::to_string(max));
      out = static_cast<unsigned>(*v);
    }
  }
  // Seconds, integer or fractional.
  void seconds(std::string_view name, std::chrono::milliseconds& out) const {
    if (auto* node = table_.get(name)) {
      auto v = node->value<double>();
      if (!(node->is_number()) || !v || !(*v > 0) || *v > 1e7) throw config_error(key(name) + ": expected a positive number of seconds");
      out = std::chrono::milliseconds(static_cast<std::int64_t>(*v * 1000));
      if (out.count() == 0) out = std::chrono::milliseconds(1);
    }
  }
  void mode(std::string_view name, pool_mode& out) const {
    std::string text;
    string(name, text);
    if (text.empty()) return;
    if (text == "transaction") out = pool_mode::transaction;
    else if (text == "session") out = pool_mode::session;
    else throw config_error(key(name) + ": expected \"transaction\" or \"session\", not \"" + text + "\"");
  }
  const toml::table* subtable(std::string_view name) const {
    auto* node = table_.get(name);
    if (!node) return nullptr;
    if (!node->is_table()) throw config_error(key(name) + ": expected a table");
    return node->as_table();
  }
  // Every key must be one of `known`: a typo must not silently fall back to a default.
  void only(std::initializer_list<std::string_view> known) const {
    for (auto&& [k, v] : table_) {
      bool ok = false;
      for (auto name : known) ok = ok || k.str() == name;
      if (!ok) throw config_error(key(k.str()) + ": unknown key");
    }
  }

 private:
  const toml::table& table_;
  std::string prefix_;
};

void read_auth_query(const table_reader& r, const database_config& db, auth_query_config& aq) {
  r.only({"query", "user", "password", "dbname", "workers", "cache_ttl", "cache_failure_ttl", "min_interval",
          "idle_timeout", "pool_size", "pool_mode"});
  aq.dbname = db.dbname;
  aq.pool_size = db.pool_size;
  aq.mode = db.mode;
  r.string("query", aq.query);
  r.string("user", aq.user);
  r.string("password", aq.password);
  r.string("dbname", aq.dbname);
  r.integer("workers", aq.workers, 1, 64);
  r.seconds("cache_ttl", aq.cache_ttl);
  r.seconds("cache_failure_ttl", aq.cache_failure_ttl);
  r.seconds("min_interval", aq.min_interval);
  r.seconds("idle_timeout", aq.idle_timeout);
  r.integer("pool_size", aq.pool_size, 1, 10000);
  r.mode("pool_mode", aq.mode);
  if (aq.user.empty()) throw config_error(r.key("user") + ": required");
  if (aq.query.find("$1") == std::string::npos) throw config_error(r.key("query") + ": must use $1 for the user name");
}

}  // namespace

const char* to_string(pool_mode mode) noexcept { return mode == pool_mode::session ? "session" : "transaction"; }

endpoint parse_listen(const std::string& key, const std::string& text) {
  try {
    return ::service::parse_endpoint(key, text);
  } catch (const std::invalid_argument& e) {
    throw config_error(e.what());
  }
}

config parse_config(const std::string& text, const std::string& source) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    std::ostringstream out;
    out << source << ":" << e.source().begin.line << ":" << e.source().begin.column << ": " << e.description();
    throw config_error(out.str());
  }
  table_reader top(root, "");
  top.only({"general", "databases"});
  config cfg;
  unsigned default_pool_size = 20;
  pool_mode default_mode = pool_mode::transaction;
  if (auto* general = top.subtable("general")) {
    table_reader g(*general, "general");
    g.only({"listen", "metrics_listen", "admin_user", "admin_password", "query_wait_timeout", "server_connect_timeout",
            "gc_interval", "max_client_conn", "pool_size", "pool_mode", "max_message_size", "shutdown_timeout",
            "health_check_timeout", "remote_write_url", "remote_write_interval"});
    std::string listen, metrics_listen;
    g.string("listen", listen);
    if (!listen.empty()) cfg.listen = parse_listen("general.listen", listen);
    g.string("metrics_listen", metrics_listen);
    if (!metrics_listen.empty()) cfg.metrics_listen = parse_listen("general.metrics_listen", metrics_listen);
    g.string("admin_user", cfg.admin_user);
    g.string("admin_password", cfg.admin_password);
    g.seconds("query_wait_timeout", cfg.query_wait_timeout);
    g.seconds("server_connect_timeout", cfg.server_connect_timeout);
    g.seconds("gc_interval", cfg.gc_interval);
    unsigned max_clients = static_cast<unsigned>(cfg.max_client_conn);
    g.integer("max_client_conn", max_clients, 1, 100000);
    cfg.max_client_conn = max_clients;
    // 1 GiB - 1 is PostgreSQL's own bound (MaxAllocSize); below 1 KiB even
    // a login would not fit.
    unsigned max_message = static_cast<unsigned>(cfg.max_message_size);
    g.integer("max_message_size", max_message, 1024, 1073741823);
    cfg.max_message_size = max_message;
    g.seconds("shutdown_timeout", cfg.shutdown_timeout);
    g.seconds("health_check_timeout", cfg.health_check_timeout);
    std::string remote_write_url;
    g.string("remote_write_url", remote_write_url);
    if (!remote_write_url.empty()) cfg.push.url = remote_write_url;
    g.seconds("remote_write_interval", cfg.push.interval);
    g.integer("pool_size", default_pool_size, 1, 10000);
    g.mode("pool_mode", default_mode);
  }
  const toml::table* databases = top.subtable("databases");
  if (!databases || databases->empty()) throw config_error("databases: at least one database is required");
  for (auto&& [name, node] : *databases) {
    std::string prefix = "databases." + std::string(name.str());
    if (!node.is_table()) throw config_error(prefix + ": expected a table");
    table_reader d(*node.as_table(), prefix);
    d.only({"host", "port", "dbname", "pool_size", "pool_mode", "users", "auth_query"});
    database_config db;
    db.name = name.str();
    if (db.name == "pgdoorman" || db.name == "pgbouncer") throw config_error(prefix + ": the admin console's name is reserved");
    db.dbname = db.name;
    db.pool_size = default_pool_size;
    db.mode = default_mode;
    d.string("host", db.host);
    unsigned port = db.port;
    d.integer("port", port, 1, 65535);
    db.port = static_cast<std::uint16_t>(port);
    d.string("dbname", db.dbname);
    d.integer("pool_size", db.pool_size, 1, 10000);
    d.mode("pool_mode", db.mode);
    if (auto* users = d.subtable("users")) {
      for (auto&& [user_name, user_node] : *users) {
        std::string user_prefix = prefix + ".users." + std::string(user_name.str());
        if (!user_node.is_table()) throw config_error(user_prefix + ": expected a table");
        table_reader u(*user_node.as_table(), user_prefix);
        u.only({"password", "pool_size", "pool_mode"});
        user_config user{std::string(user_name.str()), {}, db.pool_size, db.mode};
        u.string("password", user.password);
        if (user.password.empty()) throw config_error(user_prefix + ".password: required");
        u.integer("pool_size", user.pool_size, 1, 10000);
        u.mode("pool_mode", user.mode);
        db.users.push_back(std::move(user));
      }
    }
    if (auto* aq = d.subtable("auth_query")) {
      db.auth_query.emplace();
      read_auth_query(table_reader(*aq, prefix + ".auth_query"), db, *db.auth_query);
    }
    cfg.databases.push_back(std::move(db));
  }
  return cfg;
}

config load_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw config_error(path + ": cannot be read");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_config(text.str(), path);
}

}  // namespace pooler
