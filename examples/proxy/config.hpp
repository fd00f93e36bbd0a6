// The proxy's configuration, from command-line flags.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <service/endpoint.hpp>
#include <service/push_config.hpp>

namespace proxy {

/// Everything main() hands to the server.
struct config {
  service::endpoint listen{"127.0.0.1", 6432};
  service::endpoint metrics_listen{"127.0.0.1", 9090};
  service::push_config push;  ///< --remote-write-url, --remote-write-interval-ms: pushed as well as scraped
  /// libpq conninfo of the origin: clients are relayed to its host and port,
  /// the proxy's own catalog and change-feed connections log in with it, and
  /// its dbname is the one database whose queries are cached.
  std::string origin_conninfo;
  /// The temporary logical replication slot (test_decoding) the change
  /// feed creates and reads; empty picks a name unique to the process.
  std::string slot;
  std::size_t cache_bytes = std::size_t{64} << 20;
  /// A result larger than this is relayed but not cached.
  std::size_t max_entry_bytes = std::size_t{1} << 20;
  std::size_t max_message_bytes = std::size_t{64} << 20;
  std::chrono::milliseconds cdc_interval{200};
  /// A client must have sent its startup packet and logged in within this
  /// (PostgreSQL's authentication_timeout).
  std::chrono::milliseconds login_timeout{60000};
  /// On SIGTERM, how long statements in progress may take to finish.
  std::chrono::milliseconds shutdown_timeout{10000};
  /// Catalog facts (volatility, persistence, relkind) are looked up again
  /// after this long.
  std::chrono::milliseconds catalog_ttl{30000};
  /// Fingerprints /metrics/queries reports, most executed first.
  std::size_t top_queries = 100;
  std::vector<std::string> exclude_tables;
  /// ECMAScript regular expressions searched in the normalized statement.
  std::vector<std::string> exclude_patterns;
};

/// Parses argv (without the program name); throws std::invalid_argument
/// with a message fit for the user.
config parse_flags(std::span<const std::string_view> args);

/// The flags, one per line, for --help.
extern const char* const usage;

}  // namespace proxy
