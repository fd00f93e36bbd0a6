// The pooler's configuration: a TOML file (see README.md) plus the flags that
// override its essentials. Parsing lives in config.cpp alone, so toml++ is
// compiled once.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <service/endpoint.hpp>
#include <service/push_config.hpp>

namespace pooler {

/// A configuration that cannot be used; what() names the offending key.
class config_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// When a client's server connection goes back to the pool.
enum class pool_mode { transaction, session };

/// The text of a pool mode, as SHOW POOLS prints it.
const char* to_string(pool_mode mode) noexcept;

/// A host and port to bind to; the services' shared rules parse it.
using endpoint = ::service::endpoint;

/// Parses "host:port" (see service::parse_endpoint); throws config_error
/// naming `key`, a config key or a flag.
endpoint parse_listen(const std::string& key, const std::string& text);

/// A user listed in the config (auth source `config`).
struct user_config {
  std::string name;
  /// Plaintext, `md5<hex>` or `SCRAM-SHA-256$<iter>:<salt>$<stored>:<server>`.
  std::string password;
  unsigned pool_size = 0;
  pool_mode mode = pool_mode::transaction;
};

/// How unknown users of a database are looked up.
struct auth_query_config {
  /// pgbouncer's default query.
  std::string query =
      "SELECT rolname, CASE WHEN rolvaliduntil < now() THEN NULL ELSE rolpassword END "
      "FROM pg_authid WHERE rolname = $1 AND rolcanlogin";
  std::string user;
  std::string password;
  /// The database the executor connects to.
  std::string dbname;
  unsigned workers = 2;
  std::chrono::milliseconds cache_ttl{std::chrono::hours(1)};
  std::chrono::milliseconds cache_failure_ttl{std::chrono::seconds(30)};
  std::chrono::milliseconds min_interval{std::chrono::seconds(1)};
  /// A dynamic pool without clients or busy servers this long is destroyed.
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(5)};
  unsigned pool_size = 0;
  pool_mode mode = pool_mode::transaction;

  bool operator==(const auth_query_config&) const = default;
};

/// A database clients may name, and the PostgreSQL server behind it.
struct database_config {
  std::string name;
  std::string host = "127.0.0.1";
  std::uint16_t port = 5432;
  std::string dbname;
  unsigned pool_size = 20;
  pool_mode mode = pool_mode::transaction;
  std::vector<user_config> users;
  std::optional<auth_query_config> auth_query;
};

/// Everything the config file says.
struct config {
  endpoint listen{"127.0.0.1", 6432};
  endpoint metrics_listen{"127.0.0.1", 9127};
  std::string admin_user = "admin";
  std::string admin_password;
  /// How long a client waits for a server connection before an error.
  std::chrono::milliseconds query_wait_timeout{std::chrono::seconds(5)};
  std::chrono::milliseconds server_connect_timeout{std::chrono::seconds(5)};
  /// How often idle dynamic pools are looked for.
  std::chrono::milliseconds gc_interval{std::chrono::seconds(10)};
  std::size_t max_client_conn = 1000;
  /// The largest protocol message passed either way. PostgreSQL's own
  /// limit is 1 GiB; each connection may buffer one message this large.
  std::size_t max_message_size = std::size_t{1} << 24;
  /// After SIGTERM, how long transactions in progress may take to finish.
  std::chrono::milliseconds shutdown_timeout{std::chrono::seconds(10)};
  /// How long /health and /health/ready wait for each PostgreSQL to answer.
  std::chrono::milliseconds health_check_timeout{500};
  /// remote_write_url and remote_write_interval: pushed as well as scraped.
  /// Read at start only; RELOAD leaves it.
  service::push_config push;
  std::vector<database_config> databases;
};

/// Reads and checks the file at `path`; throws config_error.
config load_config(const std::string& path);
/// Parses TOML text (`source` names it in messages); throws config_error.
config parse_config(const std::string& text, const std::string& source);

}  // namespace pooler
